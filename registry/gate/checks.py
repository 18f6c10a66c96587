"""The registry of gate checks and fingerprint parts.

The deployment gate never imports the apps that judge a deployment. Each
app registers its checks here (in its ``checks.py``, imported from
``AppConfig.ready``), the way Django's system checks are registered:

    from registry.gate.checks import CheckResult, gate_check

    @gate_check("evaluations-passed", order=200)
    def required_evaluations(deployment_request) -> CheckResult:
        ...

A check receives the ``DeploymentRequest`` (``.model_version``,
``.model_version.model``, ``.environment``, ``.requested_by``; when a request is
first asked it is judged before it is saved, so ``.pk`` may be ``None``: read
what the request names, not rows that point at it) and returns a ``CheckResult``
whose ``reason`` is a sentence a person can act on. ``final=True`` on a
failed result means it cannot pass without a new version, so the request
is denied rather than left pending.

Fingerprint parts are what an approval is tied to: each app contributes
a JSON-able summary of what it knows about a model version (lineage,
evaluations, card...). If the combined fingerprint changes after an
approval, the approvals lapse.
"""

import hashlib
import json
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    reason: str
    final: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


_checks: dict[str, tuple[int, Callable]] = {}
_fingerprint_parts: dict[str, Callable] = {}


def gate_check(name: str, order: int = 100):
    def decorator(func):
        _checks[name] = (order, func)
        return func

    return decorator


def registered_checks() -> list[tuple[str, Callable]]:
    return [(name, func) for name, (order, func) in sorted(_checks.items(), key=lambda i: i[1][0])]


def run_checks(deployment_request) -> list[CheckResult]:
    return [func(deployment_request) for _, func in registered_checks()]


def fingerprint_part(name: str):
    """Register ``func(model_version) -> JSON-able`` as part of the approval fingerprint."""

    def decorator(func):
        _fingerprint_parts[name] = func
        return func

    return decorator


def fingerprint_parts(model_version) -> dict:
    """Every registered part for ``model_version``, normalised through JSON so a stored
    copy compares equal to a fresh one."""
    parts = {name: func(model_version) for name, func in sorted(_fingerprint_parts.items())}
    return json.loads(json.dumps(parts, sort_keys=True, default=str))


def fingerprint_of(parts: dict) -> str:
    """The SHA-256 of already computed ``fingerprint_parts`` (canonical JSON)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def fingerprint(model_version) -> str:
    return fingerprint_of(fingerprint_parts(model_version))


# --- sharing work within one judgement ---------------------------------------

_memo: ContextVar[dict | None] = ContextVar("govreg_gate_memo", default=None)


@contextmanager
def evaluation():
    """The span of one judgement: checks and fingerprint parts that read the same
    thing (a version's training data...) compute it once through ``memoize``."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def memoize(key, compute: Callable):
    """``compute()``, shared by key for the rest of the current ``evaluation``;
    outside one, simply ``compute()``. Callers must not mutate what it returns."""
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]
