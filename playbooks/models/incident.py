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
    EscalationReason,
    IncidentStatus,
    SeriousCategory,
    Severity,
    TimelineKind,
    WebhookState,
)

__all__ = [
    "CLOCK_SKEW",
    "EU_MEMBER_STATES",
    "Escalation",
    "Incident",
    "StepCompletion",
    "TimelineEntry",
]

# How far ahead of the server's clock a reported moment may be (a caller's clock
# running slightly fast); anything later is in the future and refused.
CLOCK_SKEW = timedelta(minutes=5)


# ISO 3166-1 alpha-2 codes of the EU's Member States (Greece as EL, as the EU writes it),
# the values a serious-incident report's ``affected_member_states`` may hold.
EU_MEMBER_STATES = frozenset(
    ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU")
    + ("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK")
)


def _user_fk(**kwargs):
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        **kwargs,
    )


def report_overdue_q(now) -> Q:
    """Serious incidents whose report deadline has passed with no report recorded and
    no not-reportable determination: the one definition the API filter, the admin
    filter, /metrics and the hourly escalation share."""
    return (
        ~Q(serious_category="")
        & Q(report_deadline__lt=now)
        & Q(reported_at__isnull=True)
        & Q(not_reportable_at__isnull=True)
    )


class IncidentQuerySet(models.QuerySet):
    def report_overdue(self, now=None):
        return self.filter(report_overdue_q(now or timezone.now()))


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
    report_deadline = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The deadline in force: the earliest the incident ever had, unless a person "
        "with the change-report-deadline decision right recorded why it moved.",
    )
    deadline_history = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Every deadline the category and awareness gave, oldest first: deadline, "
        "category, aware_at, at, by, in_force, reason.",
    )
    deadline_warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    report_overdue_escalated_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the overdue report was escalated through the playbook's chain (once).",
    )
    reported_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the report reached the market surveillance authority.",
    )
    # What the serious-incident report (Art. 73) says beyond the records above.
    occurred_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the incident happened, if known (else the report gives when it was "
        "opened).",
    )
    affected_member_states = models.JSONField(
        default=list,
        blank=True,
        help_text='Member States where it happened or people were affected: ["DE", "NL"].',
    )
    persons_affected = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many people were affected, as far as known."
    )
    causal_link = models.TextField(
        blank=True,
        help_text="The suspected causal link between the AI system and the incident.",
    )
    immediate_actions = models.TextField(
        blank=True, help_text="What was done at once to contain the harm."
    )
    other_regimes_notified = models.TextField(
        blank=True,
        help_text="Other authorities notified under other rules (e.g. GDPR Art. 33, NIS2), "
        "with when.",
    )
    not_reportable_at = models.DateTimeField(null=True, blank=True, editable=False)
    not_reportable_by = _user_fk(editable=False)
    not_reportable_reason = models.TextField(
        blank=True,
        editable=False,
        help_text="Why this serious incident is not reported to the authority.",
    )

    objects = IncidentQuerySet.as_manager()

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
        now = timezone.now()
        if self.aware_at and self.aware_at > now + CLOCK_SKEW:
            raise ValidationError({"aware_at": "Awareness cannot be in the future."})
        if self.reported_at is not None:
            if self.reported_at > now + CLOCK_SKEW:
                raise ValidationError({"reported_at": "The report cannot be sent in the future."})
            if self.aware_at is not None and self.reported_at < self.aware_at:
                raise ValidationError(
                    {
                        "reported_at": "The report cannot precede awareness of the incident "
                        f"({self.aware_at:%Y-%m-%d %H:%M} UTC)."
                    }
                )
        if self.occurred_at and self.occurred_at > now + CLOCK_SKEW:
            raise ValidationError({"occurred_at": "The incident cannot happen in the future."})
        self._clean_member_states()
        if self.not_reportable_at is not None and not self.not_reportable_reason.strip():
            raise ValidationError(
                {"not_reportable_reason": "A not-reportable determination needs its reason."}
            )

    def _clean_member_states(self):
        states = self.affected_member_states
        if not isinstance(states, list) or not all(isinstance(code, str) for code in states):
            raise ValidationError(
                {"affected_member_states": 'A list of country codes, e.g. ["DE", "NL"].'}
            )
        unknown = sorted({code for code in states if code.upper() not in EU_MEMBER_STATES})
        if unknown:
            raise ValidationError(
                {
                    "affected_member_states": f"Not an EU Member State: {', '.join(unknown)} "
                    "(ISO 3166-1 alpha-2; Greece is EL)."
                }
            )
        self.affected_member_states = sorted({code.upper() for code in states})

    @property
    def report_overdue(self) -> bool:
        """The report deadline passed with nothing recorded (see ``report_overdue_q``)."""
        return bool(
            self.serious_category
            and self.report_deadline is not None
            and self.report_deadline < timezone.now()
            and self.reported_at is None
            and self.not_reportable_at is None
        )


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
    """Level ``level`` of the chain was notified, because nobody acknowledged the
    incident in time or because its serious-incident report is overdue. One row per
    (incident, reason, level): the unique constraint is what makes a racing second
    worker give up."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="escalations")
    reason = models.CharField(
        max_length=16,
        choices=EscalationReason.choices,
        default=EscalationReason.UNACKNOWLEDGED,
    )
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
        ordering = ["incident", "notified_at", "level"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "reason", "level"],
                name="%(app_label)s_%(class)s_unique_level",
                violation_error_message="This escalation level was already notified.",
            )
        ]

    def __str__(self):
        return f"incident {self.incident_id} level {self.level} ({self.group_name})"
