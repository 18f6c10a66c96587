from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from registry.choices import Verdict
from registry.models.gate import require_rejection_comment
from risk.choices import (
    AcceptanceStatus,
    ControlStatus,
    ReviewState,
    RiskCategory,
    RiskLevel,
    RiskStatus,
    Treatment,
)
from risk.models.matrix import RiskMatrix

__all__ = ["Control", "Risk", "RiskAcceptance", "RiskAcceptanceApproval", "RiskQuerySet"]

ACCEPTED_BY_REQUEST_ONLY = (
    "A risk is accepted through an acceptance request that approvers grant, not by hand."
)
SCORE_FIELDS = ("inherent_likelihood", "inherent_impact", "residual_likelihood", "residual_impact")


def review_notice_days() -> int:
    return settings.GOVREG_RISK_REVIEW_NOTICE_DAYS


class RiskQuerySet(models.QuerySet):
    def live(self):
        """Risks still being managed (not closed)."""
        return self.exclude(status=RiskStatus.CLOSED)

    def review_state(self, state: str, today: date | None = None):
        """Risks whose review is due soon (within the notice period) or already overdue."""
        today = today or timezone.localdate()
        live = self.live()
        if state == ReviewState.OVERDUE:
            return live.filter(next_review_date__lt=today)
        if state == ReviewState.DUE:
            horizon = today + timedelta(days=review_notice_days())
            return live.filter(next_review_date__gte=today, next_review_date__lte=horizon)
        return self.none()

    def above_appetite(self):
        """Risks whose residual level is more severe than the appetite the team set."""
        condition = Q()
        for appetite in RiskLevel.values:
            condition |= Q(appetite=appetite, residual_level__in=RiskLevel.above(appetite))
        return self.filter(condition)


class Risk(models.Model):
    """One entry of the living register: what could go wrong, how bad, and who answers for it.

    Levels are computed from the risk's matrix and stored, so the register
    can be filtered and drawn as a heatmap without recomputing per row.
    """

    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="risks")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=32, choices=RiskCategory.choices)
    hypothesis = models.TextField(
        blank=True,
        help_text='What this risk claims, testable: "refusal rate rises on long prompts".',
    )
    matrix = models.ForeignKey(
        RiskMatrix,
        on_delete=models.PROTECT,
        related_name="risks",
        blank=True,
        help_text="Empty: the default matrix.",
    )
    inherent_likelihood = models.PositiveSmallIntegerField()
    inherent_impact = models.PositiveSmallIntegerField()
    inherent_level = models.CharField(max_length=16, choices=RiskLevel.choices, editable=False)
    residual_likelihood = models.PositiveSmallIntegerField()
    residual_impact = models.PositiveSmallIntegerField()
    residual_level = models.CharField(
        max_length=16, choices=RiskLevel.choices, editable=False, db_index=True
    )
    appetite = models.CharField(
        max_length=16,
        choices=RiskLevel.choices,
        default=RiskLevel.MEDIUM,
        help_text="The highest residual level the team tolerates without an acceptance.",
    )
    treatment = models.CharField(max_length=16, choices=Treatment.choices, default=Treatment.OPEN)
    status = models.CharField(
        max_length=16, choices=RiskStatus.choices, default=RiskStatus.OPEN, db_index=True
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_risks"
    )
    review_cadence_days = models.PositiveIntegerField(default=90)
    next_review_date = models.DateField(db_index=True, blank=True)
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    ml_models = models.ManyToManyField("registry.MLModel", blank=True, related_name="risks")
    model_versions = models.ManyToManyField(
        "registry.ModelVersion", blank=True, related_name="risks"
    )
    dataset_versions = models.ManyToManyField(
        "lineage.DatasetVersion", blank=True, related_name="risks"
    )
    features = models.ManyToManyField("registry.Feature", blank=True, related_name="risks")
    deployments = models.ManyToManyField("registry.Deployment", blank=True, related_name="risks")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RiskQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "status"], name="risk_team_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(review_cadence_days__gte=1),
                name="%(app_label)s_%(class)s_cadence_positive",
                violation_error_message="The review cadence is at least one day.",
            )
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if self.matrix_id is None:
            self.matrix = RiskMatrix.default()
        # Scores off the matrix are ``clean()``'s to refuse; here the levels follow the scores.
        self.compute_levels()
        if self.next_review_date is None:
            self.next_review_date = timezone.localdate() + timedelta(days=self.review_cadence_days)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and set(update_fields) & {*SCORE_FIELDS, "matrix"}:
            kwargs["update_fields"] = {*update_fields, "inherent_level", "residual_level"}
        super().save(*args, **kwargs)

    def compute_levels(self) -> dict[str, str]:
        """Set both stored levels from the matrix; returns the errors (by field) of the
        scores that are off the matrix, whose level is left as it was."""
        errors = {}
        for prefix in ("inherent", "residual"):
            likelihood = getattr(self, f"{prefix}_likelihood")
            impact = getattr(self, f"{prefix}_impact")
            problems = self.matrix.check_scores(likelihood, impact)
            if problems:
                for axis, message in problems.items():
                    errors[f"{prefix}_{axis}"] = message
                continue
            setattr(self, f"{prefix}_level", self.matrix.level(likelihood, impact))
        return errors

    def clean(self):
        accepted_by_hand = self.acceptance_problems()
        if accepted_by_hand:
            raise ValidationError(accepted_by_hand)
        if self.matrix_id is None:
            matrix = RiskMatrix.default()
            if matrix is None:
                raise ValidationError({"matrix": "No default risk matrix exists; name one."})
            self.matrix = matrix
        if all(getattr(self, name) is not None for name in SCORE_FIELDS):
            off_matrix = self.compute_levels()
            if off_matrix:
                raise ValidationError(off_matrix)
        if self.owner_id and self.team_id:
            owner = self.owner
            if not (owner.is_superuser or owner.groups.filter(pk=self.team_id).exists()):
                raise ValidationError({"owner": "The owner must be a member of the owning team."})

    def acceptance_problems(self) -> dict[str, str]:
        """A risk is accepted only through an acceptance request that approvers granted:
        moving it to the accept treatment or the accepted status by hand (API, admin) is
        refused on the field moved. The service that grants an acceptance sets both."""
        moved = {
            name: value
            for name, value in (("treatment", Treatment.ACCEPT), ("status", RiskStatus.ACCEPTED))
            if getattr(self, name) == value
        }
        if not moved:
            return {}
        if self.pk is not None:
            stored = type(self).objects.filter(pk=self.pk).values("treatment", "status").first()
            if stored is not None:
                moved = {name: value for name, value in moved.items() if stored[name] != value}
            if (
                moved
                and self.acceptances.filter(
                    status=AcceptanceStatus.ACCEPTED, expires_at__gt=timezone.now()
                ).exists()
            ):
                return {}
        return {name: ACCEPTED_BY_REQUEST_ONLY for name in moved}

    @property
    def above_appetite(self) -> bool:
        return RiskLevel.rank(self.residual_level) > RiskLevel.rank(self.appetite)

    def review_state(self, today: date | None = None) -> str | None:
        if self.status == RiskStatus.CLOSED or self.next_review_date is None:
            return None
        today = today or timezone.localdate()
        if self.next_review_date < today:
            return ReviewState.OVERDUE
        if self.next_review_date <= today + timedelta(days=review_notice_days()):
            return ReviewState.DUE
        return None


class Control(models.Model):
    """A mitigation of a risk, with who runs it and the evidence that it works."""

    risk = models.ForeignKey(Risk, on_delete=models.CASCADE, related_name="controls")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_controls"
    )
    status = models.CharField(
        max_length=16, choices=ControlStatus.choices, default=ControlStatus.PLANNED
    )
    evidence_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["risk", "id"]

    def __str__(self):
        return self.title

    def clean(self):
        if self.status == ControlStatus.VERIFIED and not self.evidence_url:
            raise ValidationError({"evidence_url": "A verified control needs its evidence link."})


class RiskAcceptance(models.Model):
    """A request to live with a risk above its appetite until a date; a decision right."""

    risk = models.ForeignKey(Risk, on_delete=models.CASCADE, related_name="acceptances")
    status = models.CharField(
        max_length=16,
        choices=AcceptanceStatus.choices,
        default=AcceptanceStatus.REQUESTED,
        db_index=True,
    )
    justification = models.TextField()
    expires_at = models.DateTimeField(help_text="The acceptance lapses at this moment.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="requested_risk_acceptances",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decided_risk_acceptances",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["risk"],
                condition=Q(status__in=["requested", "accepted"]),
                name="%(app_label)s_%(class)s_unique_live_per_risk",
                violation_error_message="This risk already has a pending or valid acceptance.",
            )
        ]

    def __str__(self):
        return f"acceptance of {self.risk} ({self.status})"

    def clean(self):
        if self._state.adding and self.expires_at and self.expires_at <= timezone.now():
            raise ValidationError({"expires_at": "The expiry must be in the future."})

    def is_valid(self, now=None) -> bool:
        """Accepted and not yet expired."""
        now = now or timezone.now()
        return self.status == AcceptanceStatus.ACCEPTED and self.expires_at > now


class RiskAcceptanceApproval(models.Model):
    """One approver's verdict on an acceptance, counted by the accept-risk decision right
    (``registry.gate.decisions.tally`` reads ``approver_id``, ``roles``, ``verdict``,
    ``created_at`` and ``lapsed_at``)."""

    acceptance = models.ForeignKey(
        RiskAcceptance, on_delete=models.CASCADE, related_name="approvals"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="risk_acceptance_votes"
    )
    approver_username = models.CharField(max_length=150, help_text="Frozen when deciding.")
    roles = models.JSONField(default=list, blank=True, help_text="Roles held when deciding.")
    verdict = models.CharField(max_length=16, choices=Verdict.choices, default=Verdict.APPROVE)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    lapsed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["acceptance", "approver"],
                name="%(app_label)s_%(class)s_unique_verdict",
                violation_error_message="You have already decided on this acceptance.",
            )
        ]

    def __str__(self):
        return f"{self.approver_username} {self.verdict}"

    def clean(self):
        require_rejection_comment(self.verdict, self.comment)
