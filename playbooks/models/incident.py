from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from playbooks.choices import (
    ACTIVE_STATUSES,
    REPORTING_DAYS,
    IncidentStatus,
    SeriousCategory,
    Severity,
    TimelineKind,
    WebhookState,
)

__all__ = ["Incident", "StepCompletion", "TimelineEntry", "Escalation"]


def _user_fk(**kwargs):
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        **kwargs,
    )


class Incident(models.Model):
    """Something went wrong with a model in use. Moves open -> acknowledged ->
    contained -> resolved -> closed through ``playbooks.services`` only; runs one
    playbook version; escalates while nobody acknowledges it."""

    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.CRITICAL)
    status = models.CharField(
        max_length=16,
        choices=IncidentStatus.choices,
        default=IncidentStatus.OPEN,
        editable=False,
        db_index=True,
    )
    model = models.ForeignKey(
        "registry.MLModel", on_delete=models.PROTECT, related_name="incidents"
    )
    model_version = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
    )
    deployment = models.ForeignKey(
        "registry.Deployment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
    )
    dataset_versions = models.ManyToManyField(
        "lineage.DatasetVersion", blank=True, related_name="incidents"
    )
    risks = models.ManyToManyField("risk.Risk", blank=True, related_name="incidents")
    environment_name = models.CharField(max_length=100, blank=True)
    playbook_version = models.ForeignKey(
        "playbooks.PlaybookVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
    )
    dedup_key = models.CharField(max_length=255, blank=True, editable=False, db_index=True)

    escalation_level = models.PositiveSmallIntegerField(default=0, editable=False)
    level_started_at = models.DateTimeField(null=True, blank=True, editable=False)

    opened_at = models.DateTimeField(default=timezone.now, editable=False)
    opened_by = _user_fk(editable=False)
    acknowledged_at = models.DateTimeField(null=True, blank=True, editable=False)
    acknowledged_by = _user_fk(editable=False)
    contained_at = models.DateTimeField(null=True, blank=True, editable=False)
    contained_by = _user_fk(editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_by = _user_fk(editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_by = _user_fk(editable=False)

    # EU AI Act Art. 73 reporting clock.
    serious_category = models.CharField(
        max_length=32, choices=SeriousCategory.choices, blank=True, default=SeriousCategory.NONE
    )
    aware_at = models.DateTimeField(
        null=True, blank=True, help_text="When the team became aware of the serious incident."
    )
    report_deadline = models.DateTimeField(null=True, blank=True, editable=False)
    deadline_warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    reported_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the report reached the market surveillance authority.",
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(status__in=ACTIVE_STATUSES) & ~Q(dedup_key=""),
                name="%(app_label)s_%(class)s_unique_active_dedup_key",
                violation_error_message="An active incident already exists for this alert.",
            )
        ]
        indexes = [models.Index(fields=["model", "status"], name="playbooks_incident_model_idx")]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    @staticmethod
    def deadline_for(category: str, aware_at):
        days = REPORTING_DAYS.get(category)
        if not days or aware_at is None:
            return None
        return aware_at + timedelta(days=days)

    def clean(self):
        if self.model_version_id and self.model_id and self.model_version.model_id != self.model_id:
            raise ValidationError({"model_version": "This version belongs to another model."})
        if self.deployment_id and self.model_id and self.deployment.model_id != self.model_id:
            raise ValidationError({"deployment": "This deployment serves another model."})
        if self.serious_category and self.aware_at is None:
            raise ValidationError(
                {"aware_at": "A serious incident needs the moment the team became aware."}
            )
        if self.aware_at and self.aware_at > timezone.now() + timedelta(minutes=5):
            raise ValidationError({"aware_at": "Awareness cannot be in the future."})
        self.report_deadline = self.deadline_for(self.serious_category, self.aware_at)

    @property
    def is_contained(self) -> bool:
        return self.status not in (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


class StepCompletion(models.Model):
    """One step of the incident's playbook version, done by someone at some time."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="completions")
    step = models.PositiveSmallIntegerField(help_text="1-based position in the playbook version.")
    completed_at = models.DateTimeField(default=timezone.now)
    completed_by = _user_fk()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["incident", "step"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "step"],
                name="%(app_label)s_%(class)s_unique_step",
                violation_error_message="This step is already complete.",
            )
        ]

    def __str__(self):
        return f"{self.incident_id} step {self.step}"


class TimelineEntry(models.Model):
    """Everything that happened to an incident, in order, with who and when."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=16, choices=TimelineKind.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = _user_fk()
    actor_name = models.CharField(max_length=150, blank=True)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    signal = models.ForeignKey(
        "playbooks.Signal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "timeline entries"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}: {self.message[:60]}"


class Escalation(models.Model):
    """Level ``level`` of the chain was notified. One row per (incident, level): the
    unique constraint is what makes a racing second worker give up."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="escalations")
    level = models.PositiveSmallIntegerField()
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL)
    group_name = models.CharField(max_length=150)
    minutes = models.PositiveIntegerField()
    notified_at = models.DateTimeField(default=timezone.now)
    recipients = models.JSONField(default=list, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    webhook_state = models.CharField(
        max_length=16, choices=WebhookState.choices, default=WebhookState.NOT_CONFIGURED
    )
    webhook_attempts = models.PositiveSmallIntegerField(default=0)
    webhook_delivered_at = models.DateTimeField(null=True, blank=True)
    webhook_last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["incident", "level"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "level"],
                name="%(app_label)s_%(class)s_unique_level",
                violation_error_message="This escalation level was already notified.",
            )
        ]

    def __str__(self):
        return f"incident {self.incident_id} level {self.level} ({self.group_name})"
