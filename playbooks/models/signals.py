from django.conf import settings
from django.db import models
from django.db.models import Q

from playbooks.choices import AlertStatus, SignalKind, SignalSource, TaskStatus, Triage

__all__ = ["Signal", "InvestigationTask"]


class Signal(models.Model):
    """One observation from monitoring (an Alertmanager alert or a plain JSON signal),
    kept as received, with what triage decided and why (threshold, hypothesis, values
    frozen at that moment). It is stored ``received`` first (a whole payload in one
    insert) and triaged afterwards in short transactions of its own. A signal whose
    labels name no model the sender may see is stored ``unlinked`` until someone maps
    it. ``intake_key`` makes a retried delivery of the same reading change nothing."""

    source = models.CharField(max_length=16, choices=SignalSource.choices)
    kind = models.CharField(
        max_length=32, choices=SignalKind.choices, default=SignalKind.METRIC, db_index=True
    )
    sender = models.CharField(max_length=200, blank=True, help_text="Who says so (source field).")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    observed_at = models.DateTimeField(null=True, blank=True)
    metric = models.CharField(max_length=200, blank=True)
    value = models.FloatField(null=True, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    # Alertmanager's identity of the alert and of this firing episode.
    fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    alert_status = models.CharField(max_length=16, choices=AlertStatus.choices, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    generator_url = models.URLField(max_length=1000, blank=True)
    group_key = models.CharField(max_length=500, blank=True)
    receiver = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="The signal as received.")
    intake_key = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="Digest of what identifies this reading (see playbooks.services.linking); "
        "empty when nothing does (a plain signal without observed_at).",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The sender: triage links the signal to what this user may see.",
    )
    deployment_ref = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The deployment id the sender named, if any."
    )

    # Names from the labels, kept even when they match nothing.
    model_name = models.CharField(max_length=100, blank=True)
    version_name = models.CharField(max_length=100, blank=True)
    environment_name = models.CharField(max_length=100, blank=True)

    model = models.ForeignKey(
        "registry.MLModel", null=True, blank=True, on_delete=models.PROTECT, related_name="signals"
    )
    model_version = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signals",
    )
    deployment = models.ForeignKey(
        "registry.Deployment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signals",
    )
    triage = models.CharField(max_length=16, choices=Triage.choices, db_index=True)
    triage_reason = models.TextField(blank=True)
    threshold = models.ForeignKey(
        "risk.Threshold", null=True, blank=True, on_delete=models.SET_NULL, related_name="signals"
    )
    threshold_warning = models.FloatField(null=True, blank=True)
    threshold_critical = models.FloatField(null=True, blank=True)
    threshold_comparator = models.CharField(max_length=8, blank=True)
    hypothesis = models.TextField(blank=True)
    playbook_version = models.ForeignKey(
        "playbooks.PlaybookVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    incident = models.ForeignKey(
        "playbooks.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signals",
    )
    investigation_task = models.ForeignKey(
        "playbooks.InvestigationTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signals",
    )
    mapped_at = models.DateTimeField(null=True, blank=True)
    mapped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["model", "-received_at"], name="playbooks_signal_model_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["intake_key"],
                condition=~Q(intake_key=""),
                name="%(app_label)s_%(class)s_unique_intake_key",
                violation_error_message="This reading was already received.",
            )
        ]

    def __str__(self):
        return f"{self.metric or self.labels.get('alertname', 'signal')} ({self.triage})"


class InvestigationTask(models.Model):
    """A questionable signal asks the owning team to look: one open task per alert
    episode (or per model/metric for plain signals)."""

    model = models.ForeignKey(
        "registry.MLModel", on_delete=models.PROTECT, related_name="investigation_tasks"
    )
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    dedup_key = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=8, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(status=TaskStatus.OPEN) & ~Q(dedup_key=""),
                name="%(app_label)s_%(class)s_unique_open_dedup_key",
                violation_error_message="An open investigation task exists for this signal.",
            )
        ]

    def __str__(self):
        return self.title
