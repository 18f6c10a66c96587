"""The registry of gate checks and fingerprint parts.

The deployment gate never imports the apps that judge a deployment. Each
app registers its checks here (in its ``checks.py``, imported from
``AppConfig.ready``), the way Django's system checks are registered:

    from registry.gate.checks import CheckResult, gate_check

    @gate_check("evaluations-passed", order=200, kinds=("deploy",))
    def required_evaluations(deployment_request, context: GateContext) -> CheckResult:
        ...

A check receives the ``DeploymentRequest`` and a ``GateContext``: what the gate
computed once for this judgement (the version, its model, the environment, the
kind, the moment ``now``, the matching decision right and its requirements, the
counted approvals, separation-of-duties conflicts, the training data verdict and
the fingerprint). Read what the context names rather than the request's
relations; when a request is first asked it is judged before it is saved, so
``deployment_request.pk`` may be ``None``: never read rows that point at it. A
check returns a ``CheckResult`` whose ``reason`` is a sentence a person can act
on. ``final=True`` on a failed result means it cannot pass without a new
version, so the request is denied rather than left pending.

``kinds`` says which kinds of request (``registry.choices.RequestKind``: deploy,
rollback) the check judges; left out, it judges every kind, so a new check
blocks emergency rollbacks too unless it declares otherwise. A rollback puts
back a version that was approved and live before, so only the checks that
still apply to it judge it (training data not revoked or quarantined, version
not retired, no open critical incident on that version, the rollback decision
right and its approvals); the check reads ``context.kind``.

Fingerprint parts are what an approval is tied to: each app contributes
a JSON-able summary of what it knows about a model version (lineage,
evaluations, card...). When a part changes after an approval, the approval
lapses, unless the part declares the change an *arrival* of evidence the
approver knew was missing (``arrival=func(seen, now) -> bool``: True when
``now`` only adds to ``seen`` without changing anything in it). The risk
register declares one for evaluations: a new passing result arrives, a changed,
removed or failing one is a change. Lineage and the card declare none: any
change of them lapses approvals.
"""

import hashlib
import json
import re
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import OuterRef
from django.utils import timezone

from config.statements import Statement

if TYPE_CHECKING:  # the catalog imports this module; the types are for readers only
    from registry.models import DecisionRight, Environment, MLModel, ModelVersion
    from registry.services import TrainingDataVerdict


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    reason: str
    final: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GateContext:
    """What one judgement of a request knows, computed once and handed to every check.

    ``approvals`` are the approvals that count (not lapsed, not lapsing now);
    ``conflicts`` maps user ids to why separation of duties excludes them (the
    requester, the registrant, and the approvers or the one deciding who authored the
    training run); ``run_authors`` are the training run's owner names, whoever they
    name being excluded too;
    ``lapse_reason`` explains the approvals still missing after the latest lapse
    (empty when none is to explain); ``requirements`` are the decision right's
    required approvals with the floor applied (``decisions.requirements_for``);
    ``facts`` are the registered facts about the version (``gate_fact``), read in
    the statement that loaded the request."""

    kind: str
    version: "ModelVersion"
    model: "MLModel"
    environment: "Environment"
    requested_by: Any
    now: datetime
    right: "DecisionRight | None"
    requirements: list[dict]
    conflicts: dict[int, str]
    approvals: list
    lapse_reason: str
    training_data: "TrainingDataVerdict"
    fingerprint_parts: dict = field(default_factory=dict)
    fingerprint: str = ""
    facts: dict = field(default_factory=dict)
    run_authors: tuple[str, ...] = ()


_checks: dict[str, tuple[int, Callable]] = {}
_check_kinds: dict[str, frozenset[str] | None] = {}
_fingerprint_parts: dict[str, Callable] = {}
_arrivals: dict[str, Callable] = {}


def gate_check(name: str, order: int = 100, kinds=None):
    """Register ``func(deployment_request, context) -> CheckResult``; ``kinds`` limits
    it to those request kinds (default: every kind)."""

    def decorator(func):
        _checks[name] = (order, func)
        _check_kinds[name] = frozenset(kinds) if kinds is not None else None
        return func

    return decorator


def registered_checks(kind: str | None = None) -> list[tuple[str, Callable]]:
    """The checks in order; with ``kind``, only those that judge that kind of request."""
    ordered = sorted(_checks.items(), key=lambda item: item[1][0])
    return [
        (name, func)
        for name, (_, func) in ordered
        if kind is None or _check_kinds.get(name) is None or kind in _check_kinds[name]
    ]


def run_checks(deployment_request, context: GateContext) -> list[CheckResult]:
    """Every check that judges ``context.kind``, in order, each given the context."""
    return [func(deployment_request, context) for _, func in registered_checks(context.kind)]


def fingerprint_part(name: str, arrival: Callable | None = None):
    """Register ``func(model_version) -> JSON-able`` as part of the approval fingerprint.

    ``arrival(seen, now) -> bool`` (optional) says whether a changed value only adds
    evidence to what an approver saw; such a change does not lapse approvals."""

    def decorator(func):
        _fingerprint_parts[name] = func
        if arrival is not None:
            _arrivals[name] = arrival
        else:
            _arrivals.pop(name, None)
        return func

    return decorator


def changed_parts(seen: dict, now: dict) -> list[str]:
    """The parts whose value differs between two ``fingerprint_parts``."""
    return sorted(name for name in set(seen) | set(now) if seen.get(name) != now.get(name))


def lapsing_parts(seen: dict, now: dict) -> list[str]:
    """The changed parts that lapse an approval given on ``seen``: every changed part
    except those whose registered ``arrival`` says the change only added evidence.
    A part that is new altogether (registered after the approval) lapses nothing."""
    lapsing = []
    for name in changed_parts(seen, now):
        if name not in seen:
            continue
        arrival = _arrivals.get(name)
        if name in now and arrival is not None and arrival(seen[name], now[name]):
            continue
        lapsing.append(name)
    return lapsing


def fingerprint_parts(model_version) -> dict:
    """Every registered part for ``model_version``, normalised through JSON so a stored
    copy compares equal to a fresh one."""
    parts = {name: func(model_version) for name, func in sorted(_fingerprint_parts.items())}
    return json.loads(json.dumps(parts, sort_keys=True, default=str))


def fingerprint_of(parts: dict) -> str:
    """The SHA-256 of already computed ``fingerprint_parts`` (canonical JSON)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


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


def loaded_fact(model_version, name: str, default=None):
    """The fact ``name`` about ``model_version`` as loaded for the current judgement
    (``default`` outside one, or when it was not loaded): for fingerprint parts, which
    receive only the version; checks read ``context.facts``."""
    memo = _memo.get()
    facts = memo.get(("gate.facts", model_version.pk)) if memo is not None else None
    return facts.get(name, default) if facts else default


# --- facts: what checks read, loaded with the request -------------------------

_facts: dict[str, Callable] = {}


def gate_fact(name: str):
    """Register ``func(version) -> expression``: an SQL expression (``Exists``, a
    ``Subquery``, ``JSONArray`` of a few rows) about the model version being judged,
    ``version(field)`` being an ``OuterRef`` to one of its fields (``version("pk")``,
    ``version("model_id")``, ``version("model__risk_tier")``) and ``version.now`` the
    moment the facts are read (never ``timezone.now()`` inside: the statement that
    reads them is compiled once, ``config.statements``).

    The gate evaluates every registered fact in the statement that loads the request
    (``with_facts``), or, for a request not saved yet, in one query over its version,
    so a check reads ``context.facts[name]`` instead of running a query of its own.
    A fact missing from ``context.facts`` (judged outside the gate's loading) means
    "read it yourself"."""

    def decorator(func):
        _facts[name] = func
        return func

    return decorator


def registered_facts() -> tuple:
    """What the facts' SQL depends on besides settings: the registered facts."""
    return tuple(_facts.items())


def _alias(name: str) -> str:
    return "gate_fact_" + re.sub(r"\W", "_", name)


class _Subject:
    """The version a fact is about, as ``gate_fact`` describes it."""

    def __init__(self, path: str, now: datetime):
        self.path = path
        self.now = now

    def __call__(self, name: str) -> OuterRef:
        if not self.path:
            return OuterRef(name)
        return OuterRef(f"{self.path}_id" if name in ("pk", "id") else f"{self.path}__{name}")


def with_facts(queryset, path: str = "", *, now: datetime):
    """``queryset`` of model versions (``path`` empty), or of rows that point at one
    through ``path`` (``"model_version"``), with every registered fact as of ``now``
    annotated."""
    subject = _Subject(path, now)
    return queryset.annotate(**{_alias(name): func(subject) for name, func in _facts.items()})


def take_facts(instance) -> dict | None:
    """The facts ``with_facts`` annotated on ``instance``, taken off it: they are as of
    the statement that loaded it and serve the one judgement that follows. ``None``
    when it carries none."""
    aliases = {name: _alias(name) for name in _facts}
    if not aliases or any(alias not in instance.__dict__ for alias in aliases.values()):
        return None
    return {name: instance.__dict__.pop(alias) for name, alias in aliases.items()}


def _facts_statement(pk, now):
    from registry.models import ModelVersion

    return with_facts(ModelVersion.objects.filter(pk=pk).only("pk"), now=now)


_FACTS = Statement(_facts_statement, key=registered_facts, pk=int, now=datetime)


def facts_of(model_version, now: datetime | None = None) -> dict:
    """Every registered fact about ``model_version`` as of ``now``: one query (none
    without facts)."""
    if not _facts:
        return {}
    found = _FACTS.first(pk=model_version.pk, now=now or timezone.now())
    return (take_facts(found) if found is not None else None) or dict.fromkeys(_facts)


def remember_facts(model_version, facts: dict) -> None:
    """Make ``facts`` what ``loaded_fact`` answers for ``model_version`` in the current
    judgement (``evaluation``)."""
    memo = _memo.get()
    if memo is not None:
        memo[("gate.facts", model_version.pk)] = facts
