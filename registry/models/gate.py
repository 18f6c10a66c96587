"""The deployment gate's records: who may decide what (``DecisionRight``), what a
pipeline asked for (``DeploymentRequest``) and what each approver said (``Approval``).

The decision logic itself lives in ``registry.gate.decisions`` (pure functions,
reused for risk acceptance and incident closure) and the state changes in
``registry.gate.services``.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

from accounts.roles import ROLE_NAMES
from config.json_shapes import first_violation
from registry.choices import (
    DecisionAction,
    RequestKind,
    RequestOutcome,
    RequestStatus,
    RiskTier,
    Verdict,
)

__all__ = ["Approval", "DecisionRight", "DeploymentRequest"]


# Actions a decision right may scope by environment: both put a version live there.
ENVIRONMENT_SCOPED_ACTIONS = frozenset({DecisionAction.DEPLOY, DecisionAction.ROLLBACK})

# A request is open while the gate may still let it ship: pending, or approved and
# not yet reported deployed or failed. One open request per version, environment and
# kind (the database guards it); asking again returns the open one.
OPEN_REQUEST = Q(status__in=[RequestStatus.PENDING, RequestStatus.APPROVED], outcome="")


def _default_requirements():
    return [{"role": "approver", "count": 1}]


REQUIRED_APPROVALS_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["role", "count"],
        "additionalProperties": False,
        "properties": {
            "role": {"enum": sorted(ROLE_NAMES)},
            "count": {"type": "integer", "minimum": 1},
        },
    },
}


def required_approvals_problem(requirements) -> str | None:
    """What is wrong with a decision right's ``required_approvals`` (checked against
    ``REQUIRED_APPROVALS_SCHEMA``, then for a role listed twice), or ``None``."""
    violation = first_violation(
        REQUIRED_APPROVALS_SCHEMA, requirements, key_order=("role", "count")
    )
    path = list(violation.absolute_path) if violation is not None else []
    if violation is not None and not path:
        return 'Give a list like [{"role": "approver", "count": 2}].'
    # Entries are read in order: a role listed twice before a malformed entry is named first.
    roles = [item.get("role") if isinstance(item, dict) else None for item in requirements]
    twice = next(
        (i for i, role in enumerate(roles) if role is not None and role in roles[:i]), None
    )
    if twice is not None and (violation is None or twice < path[0]):
        return f"Role {roles[twice]!r} is listed twice."
    if violation is None:
        return None
    if len(path) == 1:
        return 'Each entry is {"role": ROLE, "count": N}, e.g. {"role": "approver", "count": 2}.'
    if path[1] == "role":
        return f"Unknown role {violation.instance!r}; use one of {sorted(ROLE_NAMES)}."
    return "Each count is a whole number of at least 1."


class DecisionRight(models.Model):
    """A policy: for an action in a scope, which roles must approve, how many distinct
    people of each, whether separation of duties applies and how long an approval lasts.

    The scope is an environment (deploy and rollback only; empty = any) and either one
    risk tier or
    a single model (empty = any). When several rights match, the most specific wins:
    a single model beats a tier beats any; among those, a named environment beats
    any. ``forbidden`` marks a scope where the action is never allowed (the EU AI
    Act's unacceptable tier). Admins manage these records; every change is audited.
    """

    action = models.CharField(max_length=32, choices=DecisionAction.choices)
    environment = models.ForeignKey(
        "registry.Environment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="decision_rights",
        help_text="For deploy and rollback: the target environment; empty means any environment.",
    )
    risk_tier = models.CharField(
        max_length=16,
        choices=RiskTier.choices,
        blank=True,
        help_text="Models of this risk tier; empty means any tier.",
    )
    model = models.ForeignKey(
        "registry.MLModel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="decision_rights",
        help_text="One model only (more specific than a tier).",
    )
    required_approvals = models.JSONField(
        default=_default_requirements,
        blank=True,
        help_text="Which roles must approve and how many distinct people of each, e.g. "
        '[{"role": "approver", "count": 2}]. Empty: no approval needed.',
    )
    separation_of_duties = models.BooleanField(
        default=True,
        help_text="The requester, the version's registrant and the training run's author "
        "may not approve.",
    )
    approval_valid_for = models.DurationField(
        default=timedelta(days=14), help_text="An approval older than this lapses."
    )
    forbidden = models.BooleanField(
        default=False, help_text="The action is never allowed in this scope."
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["action", "environment__order", "risk_tier", "model__name"]
        constraints = [
            models.UniqueConstraint(
                F("action"),
                Coalesce(F("environment"), Value(0)),
                F("risk_tier"),
                Coalesce(F("model"), Value(0)),
                name="%(app_label)s_%(class)s_unique_scope",
                violation_error_message="A decision right for this action and scope exists.",
            ),
            models.CheckConstraint(
                condition=Q(model__isnull=True) | Q(risk_tier=""),
                name="%(app_label)s_%(class)s_model_or_tier",
                violation_error_message="Scope a decision right by a risk tier or by one "
                "model, not both.",
            ),
        ]

    def __str__(self):
        scope = [self.get_action_display()]
        if self.environment_id:
            scope.append(f"to {self.environment}")
        if self.model_id:
            scope.append(f"of {self.model}")
        elif self.risk_tier:
            scope.append(f"of {self.risk_tier}-tier models")
        return " ".join(scope)

    @property
    def total_required(self) -> int:
        return sum(int(item["count"]) for item in self.required_approvals or [])

    def clean(self):
        errors = {}
        if self.environment_id and self.action not in ENVIRONMENT_SCOPED_ACTIONS:
            errors["environment"] = "Only deploy and rollback rights are scoped by environment."
        if self.model_id and self.risk_tier:
            errors["risk_tier"] = "Scope by a risk tier or by one model, not both."
        problem = required_approvals_problem(self.required_approvals)
        if problem:
            errors["required_approvals"] = problem
        if self.approval_valid_for is not None and self.approval_valid_for <= timedelta(0):
            errors["approval_valid_for"] = "An approval must stay valid for some time."
        if (
            not errors
            and self._high_tier_to_protected()
            and not self.forbidden
            and self.total_required < 2
        ):
            errors["required_approvals"] = (
                "A high-tier model needs at least two distinct approvers to deploy "
                "to a protected environment."
            )
        if errors:
            raise ValidationError(errors)

    def _high_tier_to_protected(self) -> bool:
        if self.action != DecisionAction.DEPLOY or not self.environment_id:
            return False
        if not self.environment.protected:
            return False
        tier = self.model.risk_tier if self.model_id else self.risk_tier
        return tier == RiskTier.HIGH


class DeploymentRequest(models.Model):
    """A pipeline's question "may this version go to this environment?" and the gate's
    answer, kept with the reasons, the checks as last evaluated, and the fingerprint
    of what the approvers saw (lineage, card, evaluations...).

    A ``rollback`` request asks to put back a version that was approved and live in
    that environment before; the gate judges it under the ``rollback`` decision right
    with the checks that apply to rollbacks (see ``registry.gate.checks``)."""

    kind = models.CharField(max_length=16, choices=RequestKind.choices, default=RequestKind.DEPLOY)
    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="deployment_requests"
    )
    environment = models.ForeignKey(
        "registry.Environment", on_delete=models.PROTECT, related_name="deployment_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deployment_requests"
    )
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    outcome = models.CharField(
        max_length=16, choices=RequestOutcome.choices, default=RequestOutcome.NONE, blank=True
    )
    deployment = models.OneToOneField(
        "registry.Deployment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deployment_request",
    )
    superseded_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="supersedes",
        help_text="The newer request that closed this one when the requester asked anew.",
    )
    pipeline_run_url = models.URLField(max_length=1000, blank=True)
    commit = models.CharField(max_length=64, blank=True)
    note = models.TextField(blank=True, help_text="Why the requester asks (a rollback's reason).")
    checks = models.JSONField(default=list, blank=True)
    required = models.JSONField(
        default=list, blank=True, help_text="Approvals required, as last evaluated."
    )
    reasons = models.JSONField(default=list, blank=True)
    fingerprint = models.CharField(max_length=64)
    fingerprint_parts = models.JSONField(default=dict, blank=True)
    outcome_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="registry_dr_status"),
            models.Index(fields=["model_version", "environment"], name="registry_dr_mv_env"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "environment", "kind"],
                condition=OPEN_REQUEST,
                name="%(app_label)s_%(class)s_one_open",
                violation_error_message="A request for this version, environment and kind "
                "is open; ask again to get it, or ask for a new one.",
            )
        ]

    def __str__(self):
        verb = "rollback of" if self.kind == RequestKind.ROLLBACK else ""
        what = f"{verb} {self.model_version}".strip()
        return f"#{self.pk} {what} to {self.environment} ({self.status})"

    @property
    def is_open(self) -> bool:
        return (
            self.status in (RequestStatus.PENDING, RequestStatus.APPROVED)
            and self.outcome == RequestOutcome.NONE
        )

    @property
    def action(self) -> str:
        """The decision-right action that governs this request."""
        if self.kind == RequestKind.ROLLBACK:
            return DecisionAction.ROLLBACK
        return DecisionAction.DEPLOY

    @property
    def model(self):
        return self.model_version.model


def require_rejection_comment(verdict: str, comment: str) -> None:
    """A rejection says why: the one rule for every verdict (a deployment request's
    approvals, a risk acceptance's), asked by their models' ``clean()``."""
    if verdict == Verdict.REJECT and not (comment or "").strip():
        raise ValidationError({"comment": "A rejection needs a comment saying why."})


class Approval(models.Model):
    """One approver's verdict on a deployment request, tied to the fingerprint they saw.

    ``fingerprint_parts`` keeps what they saw part by part, so the gate can tell
    evidence that arrived since (a missing evaluation now passing: the approval
    stands) from a change of what they saw (training data, card, an evaluation
    result changed or failing: the approval lapses). A lapsed approval (or one older
    than the decision right allows) is kept for the record but no longer counts;
    its approver may approve again.
    """

    request = models.ForeignKey(
        DeploymentRequest, on_delete=models.CASCADE, related_name="approvals"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gate_approvals"
    )
    verdict = models.CharField(max_length=16, choices=Verdict.choices, default=Verdict.APPROVE)
    comment = models.TextField(blank=True)
    roles = models.JSONField(default=list, blank=True, help_text="Roles held when deciding.")
    fingerprint = models.CharField(max_length=64)
    fingerprint_parts = models.JSONField(
        default=dict, blank=True, help_text="What the approver saw, part by part."
    )
    created_at = models.DateTimeField()
    lapsed_at = models.DateTimeField(null=True, blank=True)
    lapse_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "approver"],
                condition=Q(lapsed_at__isnull=True),
                name="%(app_label)s_%(class)s_unique_active_approver",
                violation_error_message="You have already decided on this request.",
            )
        ]

    def __str__(self):
        return f"{self.approver} {self.verdict} #{self.request_id}"

    @property
    def is_active(self) -> bool:
        return self.lapsed_at is None

    def clean(self):
        require_rejection_comment(self.verdict, self.comment)
