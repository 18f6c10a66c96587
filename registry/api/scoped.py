"""Scoped reads of the registry's hot API calls, compiled once per process.

Registering a version names its model, and "what is live" lists deployments of a
model: both are a read scoped by ``accounts.permissions`` (``visible``,
``scope_queryset``), whose SQL the ORM and django-guardian build anew on every call
(most of either call's Python). A ``ScopedRead`` builds that queryset once per
answer the caller gives to the scoping's questions and runs it as a
``config.statements.Statement`` with the caller's id and the call's values.

The scoping itself still decides: the queryset is built by the same functions, for a
stand-in user that answers every question they ask (superuser? active? ``has_perm``
of this name?) as the caller does, and whose id is the statement's ``user_id`` slot.
The caller's answers are the statement's key, so a board member (who views every
model) and a team member (who views their team's) run different SQL, as they would
through the ORM. A question the scoping asks that ``questions`` does not name is an
error when the statement is built, never a guess.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from config.statements import Statement

__all__ = ["ScopedRead"]

# the stand-in's id, when the built SQL holds none (the caller sees every row)
_UNUSED = 0


class ScopedRead:
    """``build(user, **values)`` -> a queryset scoped for ``user``; ``all(user, **values)``
    runs it compiled. ``questions`` are the permission names the scoping may ask
    ``has_perm`` about (without an object); ``slots`` name the values' kinds as
    ``Statement`` does."""

    def __init__(self, build: Callable[..., QuerySet], *, questions: tuple[str, ...], **slots):
        self.build = build
        self.questions = tuple(questions)
        self.slots = slots
        self._statements: dict[tuple, tuple[Statement, bool]] = {}
        self._lock = threading.Lock()

    def answers(self, user) -> tuple:
        """What ``user`` answers to the scoping's questions: the statement's key."""
        return (
            bool(user.is_active),
            bool(user.is_superuser),
            frozenset(name for name in self.questions if user.has_perm(name)),
        )

    def _stand_in(self, user_id: int, answers: tuple):
        active, superuser, granted = answers
        stand_in = get_user_model()(pk=user_id, is_active=active, is_superuser=superuser)
        stand_in._state.adding = False

        def has_perm(name, obj=None):
            if obj is not None or name not in self.questions:
                raise LookupError(
                    f"the scoping asked has_perm({name!r}, {obj!r}), which this read's "
                    "questions do not name"
                )
            return (active and superuser) or name in granted

        stand_in.has_perm = has_perm
        return stand_in

    def _statement(self, answers: tuple, per_user: bool) -> Statement:
        def scoped(user_id=_UNUSED, **values):
            return self.build(self._stand_in(user_id, answers), **values)

        if per_user:
            return Statement(scoped, user_id=int, **self.slots)
        return Statement(scoped, **self.slots)

    def all(self, user, **values) -> list:
        """The rows ``user`` may see for ``values`` (none without a signed-in user, as
        the scoping answers)."""
        if not getattr(user, "is_authenticated", False):
            return []
        answers = self.answers(user)
        found = self._statements.get(answers)
        if found is None:
            with self._lock:
                found = self._statements.get(answers)
                if found is None:
                    statement = self._statement(answers, per_user=True)
                    try:
                        rows = statement.all(user_id=user.pk, **values)
                    except ValueError as exc:
                        if "user_id" not in str(exc) or "reach" not in str(exc):
                            raise
                        # the caller sees every row: the SQL names no user
                        statement.forget()
                        found = self._statements[answers] = (
                            self._statement(answers, per_user=False),
                            False,
                        )
                    else:
                        self._statements[answers] = (statement, True)
                        return rows
        statement, per_user = found
        if per_user:
            return statement.all(user_id=user.pk, **values)
        return statement.all(**values)
