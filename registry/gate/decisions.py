"""Who may decide, and when a decision is complete: pure functions over decision rights.

The deployment gate uses them for the ``deploy`` action; the risk register reuses
them for ``accept-risk`` and the playbooks for ``close-incident``, each with its
own approval records. An approval record, for ``tally``, is any object with

- ``approver_id``: the deciding user's id,
- ``roles``: the role names that user held when deciding (an iterable of str),
- ``created_at``: when they decided (an aware datetime),
- ``lapsed_at`` (optional): set when the approval no longer counts,
- ``verdict`` (optional): only ``"approve"`` counts; anything else is ignored.

Typical use::

    right = rights_for(DecisionAction.ACCEPT_RISK, risk.model)
    allowed, reason = can_approve(user, DecisionAction.ACCEPT_RISK, risk.model)
    conflicts = {risk.raised_by_id: "raised the risk"} if right.separation_of_duties else {}
    complete, missing = tally(right, risk.approvals.all(), conflicts, timezone.now())
"""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import Q

from accounts.permissions import may
from accounts.roles import Role, has_role, roles_of
from config.statements import Statement
from registry.choices import DecisionAction, RiskTier, Verdict

__all__ = [
    "approval_counts",
    "can_approve",
    "conflicted_among",
    "conflicted_users",
    "requirements_for",
    "rights_for",
    "run_author_names",
    "tally",
    "training_run_authors",
]


def rights_for(action: str, model, environment=None):
    """The decision right that governs ``action`` on ``model`` (in ``environment`` for
    deploy), or ``None`` when no right covers it (deny by default: nothing is allowed
    until an admin writes a right).

    The most specific right wins: one naming the model beats one naming its risk
    tier beats one for any model; at equal model specificity, one naming the
    environment beats one for any environment. One query.
    """
    candidates = _RIGHTS.all(
        action=action,
        model=model.pk,
        risk_tier=model.risk_tier,
        environment=environment.pk if environment is not None else 0,  # 0: no environment
    )
    if not candidates:
        return None

    def specificity(right):
        model_level = 2 if right.model_id else (1 if right.risk_tier else 0)
        return (model_level, 1 if right.environment_id else 0)

    return max(candidates, key=specificity)


def _rights_query(action, model, risk_tier, environment):
    from registry.models import DecisionRight

    scope = Q(model=model) | Q(model__isnull=True, risk_tier__in=[risk_tier, ""])
    env_scope = Q(environment__isnull=True) | Q(environment=environment)
    return DecisionRight.objects.filter(scope, env_scope, action=action).select_related(
        "environment", "model"
    )


# compiled once (config.statements): every judgement asks it
_RIGHTS = Statement(_rights_query, action=str, model=int, risk_tier=str, environment=int)


def requirements_for(right, model, environment=None) -> list[dict]:
    """The right's required approvals, with the floor no right can lower: a high-tier
    model going to a protected environment (production) needs at least two distinct
    approvers. Returns ``[{"role": ROLE, "count": N}, ...]``."""
    if right is None:
        return []
    requirements = [dict(item) for item in right.required_approvals or []]
    needs_floor = (
        right.action == DecisionAction.DEPLOY
        and environment is not None
        and environment.protected
        and model.risk_tier == RiskTier.HIGH
    )
    total = sum(item["count"] for item in requirements)
    if needs_floor and total < 2:
        for item in requirements:
            if item["role"] == Role.APPROVER:
                item["count"] += 2 - total
                break
        else:
            requirements.append({"role": str(Role.APPROVER), "count": 2 - total})
    return requirements


def can_approve(user, action: str, model) -> tuple[bool, str]:
    """Whether ``user`` may approve ``action`` on ``model``: they need the ``approver``
    role and the object permission ``registry.approve_mlmodel`` on that model (granted
    to the owning team when the model is registered; admins grant it to other groups
    or people in the model's admin page, "Object permissions"). Separation of duties
    is a separate question (``conflicted_users``). Returns ``(allowed, reason)``."""
    if not getattr(user, "is_authenticated", False):
        return False, "Sign in to approve."
    if not has_role(user, Role.APPROVER):
        return False, "You need the approver role to approve."
    if not may(user, "approve", model):
        return False, (
            f"You hold no approve right on model {model.name!r}; "
            "an admin grants it per model to a group or a person."
        )
    verb = dict(DecisionAction.choices).get(action, action).lower()
    return True, f"You may approve: {verb} of {model.name}."


def _owner_names(facets) -> list[str]:
    """Owner names from an OpenLineage ``ownership`` facet ({"owners": [{"name": ...}]})."""
    if not isinstance(facets, dict):
        return []
    ownership = facets.get("ownership")
    owners = ownership.get("owners") if isinstance(ownership, dict) else None
    names = []
    for owner in owners or []:
        name = owner.get("name") if isinstance(owner, dict) else None
        if isinstance(name, str) and name.strip():
            names.append(name.strip().removeprefix("user:"))
    return names


def run_author_names(run) -> list[str]:
    """The owner names of a lineage training run, as its OpenLineage ``ownership`` facet
    and its job's say (``{"owners": [{"name": "user:olivia", "type": "MAINTAINER"}]}``),
    without the ``user:`` prefix. Reads nothing: the run and its job are loaded."""
    if run is None:
        return []
    names = _owner_names(getattr(run, "facets", None))
    job = getattr(run, "job", None)
    if job is not None:
        names += _owner_names(getattr(job, "facets", None))
    return names


def is_named(user, names) -> bool:
    """Whether one of ``names`` is ``user``'s username or e-mail (case-insensitive), the
    way ``training_run_authors`` matches owners to users."""
    wanted = {name.casefold() for name in names}
    return bool(wanted) and (
        user.get_username().casefold() in wanted or (user.email or "").casefold() in wanted
    )


def training_run_authors(run) -> set[int]:
    """User ids of the people who authored a lineage training run.

    Each owner name of ``run_author_names`` is matched to a user by username or
    e-mail. Owners that match no user are ignored (they cannot approve anyway).
    """
    names = run_author_names(run)
    if not names:
        return set()
    query = Q()
    for name in names:
        query |= Q(username__iexact=name) | Q(email__iexact=name)
    return set(get_user_model().objects.filter(query).values_list("pk", flat=True))


def conflicted_users(model_version, requested_by_id=None) -> dict[int, str]:
    """Separation of duties for a model version: who may not approve it, and why.

    The requester, the user who registered the version, and the training run's
    authors (see ``training_run_authors``). Returns ``{user_id: reason}``.
    """
    authors = training_run_authors(getattr(model_version, "training_run", None))
    return _conflicts(model_version, requested_by_id, authors)


def conflicted_among(model_version, requested_by_id, people) -> dict[int, str]:
    """``conflicted_users`` narrowed to the requester, the registrant and ``people``
    (users already loaded: the approvers, the one deciding), without a query: the
    run's authors among ``people`` are found by name (``is_named``)."""
    names = run_author_names(getattr(model_version, "training_run", None))
    authors = {person.pk for person in people if is_named(person, names)}
    return _conflicts(model_version, requested_by_id, authors)


def _conflicts(model_version, requested_by_id, author_ids) -> dict[int, str]:
    conflicts: dict[int, str] = {user_id: "authored the training run" for user_id in author_ids}
    if getattr(model_version, "registered_by_id", None):
        conflicts[model_version.registered_by_id] = "registered this version"
    if requested_by_id:
        conflicts[requested_by_id] = "requested this deployment"
    return conflicts


def _counts(approval, right, excluded_user_ids, now) -> bool:
    if getattr(approval, "verdict", Verdict.APPROVE) != Verdict.APPROVE:
        return False
    if getattr(approval, "lapsed_at", None) is not None:
        return False
    if approval.approver_id in excluded_user_ids:
        return False
    valid_for = getattr(right, "approval_valid_for", None)
    return not (valid_for is not None and approval.created_at + valid_for <= now)


def _assign(requirements: list[dict], people: dict[int, frozenset[str]]) -> dict[str, int]:
    """Seat each person in at most one required slot so the most slots are filled
    (a maximum bipartite matching; one person approving as approver and board
    counts once). Returns filled slots per role."""
    slots = [item["role"] for item in requirements for _ in range(item["count"])]
    seat_of: dict[int, int] = {}  # slot index -> person id

    def place(person, seen):
        for index, role in enumerate(slots):
            if role in people[person] and index not in seen:
                seen.add(index)
                if index not in seat_of or place(seat_of[index], seen):
                    seat_of[index] = person
                    return True
        return False

    for person in sorted(people):
        place(person, set())
    filled: dict[str, int] = {}
    for index in seat_of:
        filled[slots[index]] = filled.get(slots[index], 0) + 1
    return filled


def approval_counts(
    right, approvals: Iterable, excluded_user_ids, now, *, requirements=None
) -> list[dict]:
    """Per required role: ``{"role", "count", "have", "missing"}`` (see ``tally``)."""
    requirements = requirements if requirements is not None else (right.required_approvals or [])
    excluded = set(excluded_user_ids or ())
    people: dict[int, set[str]] = {}
    for approval in approvals:
        if _counts(approval, right, excluded, now):
            people.setdefault(approval.approver_id, set()).update(approval.roles or ())
    filled = _assign(requirements, {k: frozenset(v) for k, v in people.items()})
    return [
        {
            "role": item["role"],
            "count": item["count"],
            "have": filled.get(item["role"], 0),
            "missing": item["count"] - filled.get(item["role"], 0),
        }
        for item in requirements
    ]


def tally(
    right, approvals: Iterable, excluded_user_ids, now, *, requirements=None
) -> tuple[bool, list[str]]:
    """Are the approvals complete under ``right``? Returns ``(complete, missing)``,
    ``missing`` being sentences like ``"1 more approver (2 required)"``.

    An approval counts when its verdict is approve, it has not lapsed, its approver
    is not in ``excluded_user_ids`` (separation of duties) and it is younger than
    ``right.approval_valid_for`` at ``now``. Each distinct person fills at most one
    required slot, for a role they held when approving. ``requirements`` overrides
    ``right.required_approvals`` (e.g. with ``requirements_for``'s floor). Pure:
    no queries beyond iterating ``approvals``.
    """
    counts = approval_counts(right, approvals, excluded_user_ids, now, requirements=requirements)
    missing = [
        f"{row['missing']} more {row['role']} ({row['count']} required)"
        for row in counts
        if row["missing"] > 0
    ]
    return not missing, missing


def roles_snapshot(user) -> list[str]:
    """The role names to store on an approval record when ``user`` decides."""
    return sorted(roles_of(user))
