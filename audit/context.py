"""Who is acting, kept in a ContextVar for the length of a request or task.

The middleware stores the current HttpRequest; DRF copies the authenticated
user and token onto it, so the actor is read when an event is written, after
authentication has happened. Tasks and commands use ``acting_as``.
"""

import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    username: str = ""
    token: str = ""


@dataclass
class AuditContext:
    request_id: str = ""
    source_address: str | None = None
    request: object | None = None
    actor: Actor | None = None


_current: ContextVar[AuditContext | None] = ContextVar("govreg_audit_context", default=None)


def current() -> AuditContext:
    return _current.get() or AuditContext()


def set_context(ctx: AuditContext):
    return _current.set(ctx)


def reset_context(token) -> None:
    _current.reset(token)


def actor_from_user(user, token=None) -> Actor:
    if user is None or not getattr(user, "is_authenticated", False):
        return Actor()
    token_label = ""
    if token is not None and hasattr(token, "token_key"):
        token_label = f"{getattr(token, 'name', '') or 'token'} ({token.token_key})"
    return Actor(user_id=user.pk, username=user.get_username(), token=token_label)


def current_actor() -> Actor:
    ctx = current()
    if ctx.actor is not None:
        return ctx.actor
    request = ctx.request
    if request is None:
        return Actor(username="system")
    return actor_from_user(getattr(request, "user", None), getattr(request, "auth", None))


@contextmanager
def acting_as(user=None, *, name: str = "", request_id: str | None = None):
    """Run a block (a task, a command) as ``user`` or a named system actor."""
    actor = actor_from_user(user) if user is not None else Actor(username=name or "system")
    token = set_context(AuditContext(request_id=request_id or uuid.uuid4().hex, actor=actor))
    try:
        yield
    finally:
        reset_context(token)
