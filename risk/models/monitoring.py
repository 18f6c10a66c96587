import math
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import DateTimeField, ExpressionWrapper, F, Q
from django.utils import timezone
from django.utils.timesince import timesince

from registry.choices import RiskTier
from risk.choices import (
    Classification,
    Comparator,
    EvaluationKind,
    EvaluationOutcome,
    ReminderKind,
)
from risk.models.register import Risk, RiskAcceptance

__all__ = [
    "HeartbeatState",
    "ThresholdQuerySet",
    "Evaluation",
    "Reminder",
    "RequiredEvaluation",
    "Threshold",
    "ThresholdRecalibration",
]


def _breaches(comparator: str, value: float, limit: float) -> bool:
    if comparator == Comparator.GT:
        return value > limit
    if comparator == Comparator.GTE:
        return value >= limit
    if comparator == Comparator.LT:
        return value < limit
    return value <= limit


class HeartbeatState(models.TextChoices):
    """Where a threshold's monitor stands (healthchecks' states): ``off`` without a
    cadence, ``waiting`` for its first reading, ``up``, ``late`` (past the cadence,
    within the grace period) or ``silent``."""

    OFF = "off", "No heartbeat"
    WAITING = "waiting", "Waiting for the first reading"
    UP = "up", "Up"
    LATE = "late", "Late (in the grace period)"
    SILENT = "silent", "Silent"


def reading_due():
    """The moment by which the next reading must have arrived (SQL)."""
    return ExpressionWrapper(
        F("last_reading_at") + F("expected_every") + F("grace"), output_field=DateTimeField()
    )


class ThresholdQuerySet(models.QuerySet):
    def overdue(self, now):
        """Thresholds whose monitor promised a reading and has sent none past the
        cadence and the grace period (silent or about to be found so)."""
        return (
            self.filter(expected_every__isnull=False, last_reading_at__isnull=False)
            .alias(reading_due=reading_due())
            .filter(reading_due__lt=now)
        )

    def alive(self, now):
        """Thresholds with a cadence whose last reading came within it (and its grace)."""
        return (
            self.filter(
                expected_every__isnull=False,
                last_reading_at__isnull=False,
                silent_since__isnull=True,
            )
            .alias(reading_due=reading_due())
            .filter(reading_due__gte=now)
        )


class Threshold(models.Model):
    """The acceptable deviation of one metric of a model version or deployment.

    ``comparator`` says which side is bad: with "gt" a value above the
    warning value is questionable and above the critical value critical.
    Changing the values goes through ``risk.services.recalibrate_threshold``,
    which keeps the old values in a ``ThresholdRecalibration``.
    """

    risk = models.ForeignKey(Risk, on_delete=models.PROTECT, related_name="thresholds")
    model_version = models.ForeignKey(
        "registry.ModelVersion",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="thresholds",
    )
    deployment = models.ForeignKey(
        "registry.Deployment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="thresholds",
    )
    metric = models.CharField(max_length=200)
    comparator = models.CharField(max_length=8, choices=Comparator.choices)
    warning_value = models.FloatField()
    critical_value = models.FloatField()
    hypothesis = models.TextField(
        blank=True, help_text="Why a value past this line means the risk is materialising."
    )
    # Heartbeat: the monitor promises a reading at least this often; past the cadence
    # and the grace period it is silent (``playbooks.detect_silent_monitors``).
    expected_every = models.DurationField(
        null=True,
        blank=True,
        help_text="A reading is expected at least this often (empty: no heartbeat).",
    )
    grace = models.DurationField(
        default=timedelta(0),
        blank=True,
        help_text="How long past the cadence a reading may be late before the monitor "
        "counts as silent.",
    )
    last_reading_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Set by triage."
    )
    silent_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        db_index=True,
        help_text="When the monitor was found silent; cleared when readings return.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ThresholdQuerySet.as_manager()

    class Meta:
        ordering = ["metric", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expected_every__isnull=True) | Q(expected_every__gt=timedelta(0)),
                name="%(app_label)s_%(class)s_cadence_positive",
                violation_error_message="The expected cadence is longer than zero.",
            ),
            models.CheckConstraint(
                condition=Q(grace__gte=timedelta(0)),
                name="%(app_label)s_%(class)s_grace_not_negative",
                violation_error_message="The grace period is not negative.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(model_version__isnull=False, deployment__isnull=True)
                    | Q(model_version__isnull=True, deployment__isnull=False)
                ),
                name="%(app_label)s_%(class)s_one_subject",
                violation_error_message="A threshold watches either a model version or a "
                "deployment, not both and not neither.",
            ),
            models.UniqueConstraint(
                fields=["model_version", "metric"],
                condition=Q(model_version__isnull=False),
                name="%(app_label)s_%(class)s_unique_version_metric",
                violation_error_message="This model version already has a threshold for "
                "this metric.",
            ),
            models.UniqueConstraint(
                fields=["deployment", "metric"],
                condition=Q(deployment__isnull=False),
                name="%(app_label)s_%(class)s_unique_deployment_metric",
                violation_error_message="This deployment already has a threshold for this metric.",
            ),
        ]

    def __str__(self):
        return f"{self.metric} {self.comparator} {self.warning_value}/{self.critical_value}"

    @property
    def subject(self):
        return self.model_version if self.model_version_id else self.deployment

    @property
    def next_reading_due(self):
        """When the next reading is due at the latest (cadence and grace), if it is."""
        if self.expected_every is None or self.last_reading_at is None:
            return None
        return self.last_reading_at + self.expected_every + (self.grace or timedelta(0))

    @property
    def cadence_text(self) -> str:
        """ "1 hour, 15 minutes' grace": the promise in words (empty without one)."""
        if self.expected_every is None:
            return ""
        now = timezone.now()
        text = timesince(now - self.expected_every, now)
        if self.grace:
            text += f" ({timesince(now - self.grace, now)}' grace)"
        return text

    @property
    def heartbeat(self) -> str:
        return self.heartbeat_state()

    def heartbeat_state(self, now=None) -> str:
        if self.expected_every is None:
            return HeartbeatState.OFF
        if self.silent_since is not None:
            return HeartbeatState.SILENT
        if self.last_reading_at is None:
            return HeartbeatState.WAITING
        now = now or timezone.now()
        if now <= self.last_reading_at + self.expected_every:
            return HeartbeatState.UP
        if now <= self.next_reading_due:
            return HeartbeatState.LATE
        return HeartbeatState.SILENT

    def clean(self):
        errors = {}
        if bool(self.model_version_id) == bool(self.deployment_id):
            errors["model_version"] = "Name either a model version or a deployment."
        if self.expected_every is not None and self.expected_every < timedelta(minutes=1):
            errors["expected_every"] = "Give a cadence of one minute or more."
        if self.grace is not None and self.grace < timedelta(0):
            errors["grace"] = "The grace period is not negative."
        for name in ("warning_value", "critical_value"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                errors[name] = "Give a finite number."
        if not errors and None not in (self.warning_value, self.critical_value):
            upward = self.comparator in (Comparator.GT, Comparator.GTE)
            if upward and self.critical_value < self.warning_value:
                errors["critical_value"] = (
                    "When above is bad, the critical value must be at or above the warning value."
                )
            if not upward and self.critical_value > self.warning_value:
                errors["critical_value"] = (
                    "When below is bad, the critical value must be at or below the warning value."
                )
        if errors:
            raise ValidationError(errors)

    def classify(self, value) -> str:
        """benign, questionable or critical for one observed value (NaN is questionable)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"a metric value must be a number, not {type(value).__name__}")
        if math.isnan(value):
            return Classification.QUESTIONABLE.value
        if _breaches(self.comparator, value, self.critical_value):
            return Classification.CRITICAL.value
        if _breaches(self.comparator, value, self.warning_value):
            return Classification.QUESTIONABLE.value
        return Classification.BENIGN.value


class ThresholdRecalibration(models.Model):
    """The old and new values of one threshold change, who made it, why, and what prompted it."""

    threshold = models.ForeignKey(
        Threshold, on_delete=models.CASCADE, related_name="recalibrations"
    )
    old_warning_value = models.FloatField()
    old_critical_value = models.FloatField()
    new_warning_value = models.FloatField()
    new_critical_value = models.FloatField()
    reason = models.TextField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="threshold_recalibrations",
    )
    changed_by_username = models.CharField(max_length=150)
    source_type = models.CharField(
        max_length=100, blank=True, help_text='What prompted it, e.g. "playbooks.actionitem".'
    )
    source_id = models.CharField(max_length=64, blank=True)
    source_label = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return (
            f"{self.threshold.metric}: {self.old_warning_value}/{self.old_critical_value} -> "
            f"{self.new_warning_value}/{self.new_critical_value}"
        )


class Evaluation(models.Model):
    """A test result posted by CI/CD for a model version, with what it set out to show."""

    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.CASCADE, related_name="evaluations"
    )
    kind = models.CharField(max_length=32, choices=EvaluationKind.choices)
    name = models.CharField(max_length=500, help_text="The test case or review name.")
    suite = models.CharField(max_length=500, blank=True)
    hypothesis = models.TextField(blank=True)
    success_criterion = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=EvaluationOutcome.choices)
    passed = models.BooleanField(default=False, editable=False, help_text="outcome == passed")
    message = models.TextField(blank=True, help_text="Failure or skip message from the runner.")
    duration_seconds = models.FloatField(null=True, blank=True)
    evidence_url = models.URLField(max_length=500, blank=True)
    run_reference = models.CharField(
        max_length=500, blank=True, help_text="The CI run that produced it (URL or id)."
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reviewed_evaluations",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="submitted_evaluations",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["model_version", "kind"], name="risk_eval_version_kind_idx")
        ]

    def __str__(self):
        return f"{self.kind} {self.name}: {self.outcome}"

    def save(self, *args, **kwargs):
        self.passed = self.outcome == EvaluationOutcome.PASSED
        super().save(*args, **kwargs)

    def clean(self):
        if self.kind == EvaluationKind.HUMAN_REVIEW and self.reviewer_id is None:
            raise ValidationError({"reviewer": "A human review names its reviewer."})
        if not isinstance(self.metrics, dict):
            raise ValidationError({"metrics": "Give metrics as an object of name: value."})


class RequiredEvaluation(models.Model):
    """An evaluation kind that must have passed before a version of this risk tier deploys."""

    risk_tier = models.CharField(max_length=16, choices=RiskTier.choices)
    kind = models.CharField(max_length=32, choices=EvaluationKind.choices)

    class Meta:
        ordering = ["risk_tier", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["risk_tier", "kind"],
                name="%(app_label)s_%(class)s_unique_tier_kind",
                violation_error_message="This tier already requires this evaluation kind.",
            )
        ]

    def __str__(self):
        return f"{self.risk_tier} tier requires {self.kind}"


class Reminder(models.Model):
    """A notice sent to a risk owner; one per (risk, kind, due date) so re-runs send nothing."""

    risk = models.ForeignKey(Risk, on_delete=models.CASCADE, related_name="reminders")
    acceptance = models.ForeignKey(
        RiskAcceptance, on_delete=models.CASCADE, null=True, blank=True, related_name="reminders"
    )
    kind = models.CharField(max_length=32, choices=ReminderKind.choices)
    due_date = models.DateField()
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    recipient_email = models.EmailField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["risk", "kind", "due_date"],
                name="%(app_label)s_%(class)s_unique_per_due_date",
                violation_error_message="This reminder was already issued.",
            )
        ]

    def __str__(self):
        return f"{self.kind} for {self.risk} ({self.due_date})"
