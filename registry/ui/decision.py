"""What the decision page shows beside the gate's judgement: my eligibility, what my
approval would cover and when it would lapse, and what changed against the version
live now in the request's environment (card fields and training data here; the
apps above add their own comparisons as ``group="changes"`` board sections).

Everything is read; nothing is written (the page is a GET).
"""

from dataclasses import dataclass, field
from datetime import datetime

from accounts.roles import roles_of
from registry import services as catalog
from registry.choices import RequestKind, Verdict
from registry.gate import decisions, services
from registry.gate.approval_checks import APPROVALS, POLICY

# What fixing a failing check does to an approval given now (the lapse rule of the
# README, "Approvals are tied to what the approver saw"), per check.
FIX_EFFECT = {
    "model-card-complete": "completing the card changes it: your approval would lapse",
    "training-data-complete": (
        "fixing the training data changes what you saw: your approval would lapse"
    ),
    "required-evaluations": (
        "a missing result posted passing is evidence arriving: your approval stands; "
        "a re-run or a changed result lapses it"
    ),
    "risks-within-appetite": (
        "an approved acceptance or a lower residual score is not part of what you approve: "
        "your approval stands"
    ),
    "no-open-critical-incident": "containing the incident leaves your approval standing",
    "version-not-retired": "a retired version cannot be approved: the request is denied",
    "rollback-target": "this version cannot be put back: the request is denied",
    POLICY: "no approval can fix the decision right: an admin must change it",
}


@dataclass
class Eligibility:
    """Whether the viewer may decide, and what their approval would do, before the click."""

    allowed: bool
    reason: str
    my_decision: object = None  # my Approval on this request that counts, if any
    my_lapsed: object = None  # my approval that lapsed (I may decide again)
    counts_towards: list[str] = field(default_factory=list)
    valid_until: datetime | None = None
    valid_for: str = ""
    failing: list[dict] = field(default_factory=list)  # {"name", "effect"}


def eligibility(deployment_request, user, approvals, now) -> Eligibility:
    """The viewer's standing on this request: the decision right (approver role and the
    approve right), separation of duties, a decision already given, which required
    approvals theirs would count towards, until when it would stay valid, and what
    fixing each failing check would do to it."""
    version = deployment_request.model_version
    allowed, reason = decisions.can_approve(user, deployment_request.action, version.model)
    conflicts = decisions.conflicted_users(version, deployment_request.requested_by_id)
    if allowed and user.pk in conflicts:
        allowed, reason = False, f"Separation of duties: you {conflicts[user.pk]}."
    mine = next((a for a in approvals if a.approver_id == user.pk and a.lapsed_at is None), None)
    lapsed = next((a for a in approvals if a.approver_id == user.pk and a.lapsed_at), None)
    if allowed and mine is not None:
        allowed = False
        reason = f"You have already decided on this request ({mine.verdict})."
    if services.is_settled(deployment_request):
        allowed = False
    right = decisions.rights_for(
        deployment_request.action, version.model, deployment_request.environment
    )
    held = set(roles_of(user))
    counts = [
        f"{row['role']} ({row['have']}/{row['count']})"
        for row in deployment_request.required or []
        if row.get("role") in held and row.get("have", 0) < row.get("count", 0)
    ]
    failing = [
        {"name": c["name"], "effect": FIX_EFFECT.get(c["name"], "")}
        for c in deployment_request.checks
        if not c["passed"] and c["name"] != APPROVALS
    ]
    return Eligibility(
        allowed=allowed,
        reason=reason,
        my_decision=mine,
        my_lapsed=lapsed if mine is None else None,
        counts_towards=counts,
        valid_until=(now + right.approval_valid_for) if right is not None else None,
        valid_for=services.describe_duration(right.approval_valid_for) if right else "",
        failing=failing,
    )


def _dataset_key(dv) -> str:
    return f"{dv.dataset.namespace.name}:{dv.dataset.name}"


def training_data_changes(live_version, version) -> list[dict]:
    """Dataset by dataset: the version each side trained on, and what differs."""
    before = {_dataset_key(dv): dv for dv in catalog.training_data(live_version)}
    after = {_dataset_key(dv): dv for dv in catalog.training_data(version)}
    rows = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is None:
            change, tone = "added", "warn"
        elif new is None:
            change, tone = "no longer used", "warn"
        elif old.pk == new.pk:
            change, tone = "same", ""
        elif (old.content_hash or "") == (new.content_hash or ""):
            change, tone = "same content, another version", ""
        else:
            change, tone = "new version", "warn"
        if new is not None and new.status != "active":
            tone = "bad"
        rows.append({"dataset": key, "live": old, "this": new, "change": change, "tone": tone})
    return rows


def card_changes(model, live_deployment) -> tuple[list[dict], bool]:
    """The card as the approvers of the live version saw it (kept on the request that
    shipped it) against the card now. The second value says whether that card was
    recorded (a deployment made without a gate request has none)."""
    shipped_by = getattr(live_deployment, "deployment_request", None) if live_deployment else None
    seen = (shipped_by.fingerprint_parts or {}).get("card") if shipped_by else None
    rows = []
    for name in model.CARD_FIELDS:
        now = str(getattr(model, name) or "")
        then = None if seen is None else str(seen.get(name) or "")
        rows.append(
            {
                "field": model._meta.get_field(name).verbose_name,
                "live": then,
                "this": now,
                "changed": then is not None and then != now,
            }
        )
    return rows, seen is not None


def decision_context(deployment_request, user, now, live) -> dict:
    """The page's context beside the request itself (see the module docstring)."""
    version = deployment_request.model_version
    model = version.model
    approvals = list(deployment_request.approvals.all())
    context = {
        "approvals": approvals,
        "me": eligibility(deployment_request, user, approvals, now),
        "live_now": live,
        "is_rollback": deployment_request.kind == RequestKind.ROLLBACK,
        "approvals_given": sum(
            1 for a in approvals if a.lapsed_at is None and a.verdict == Verdict.APPROVE
        ),
    }
    if live is not None and live.model_version_id != version.pk:
        context["card_changes"], context["card_recorded"] = card_changes(model, live)
        context["data_changes"] = training_data_changes(live.model_version, version)
    return context
