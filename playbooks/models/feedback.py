"""What people tell a team about a model in use (feedback reports), and what the team
tells the public about an incident (incident notices)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from playbooks.choices import FeedbackCategory, FeedbackChannel, FeedbackStatus, NoticeStatus

__all__ = ["FeedbackReport", "IncidentNotice"]


class FeedbackReport(models.Model):
    """One report from an operator, an integrated product or a member of the public.

    ``model_version`` and ``deployment`` are what served in ``environment`` when the
    report arrived, read from the deployment history (never what the reporter says).
    The report enters triage as its ``signal`` (kind ``feedback``). The reporter holds
    a status URL with a random token; only its SHA-256 is stored (``status_token_hash``).
    ``public_reply`` is the team's answer shown on that page."""

    model = models.ForeignKey(
        "registry.MLModel", on_delete=models.PROTECT, related_name="feedback_reports"
    )
    environment = models.ForeignKey(
        "registry.Environment", on_delete=models.PROTECT, related_name="feedback_reports"
    )
    model_version = models.ForeignKey(
        "registry.ModelVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="feedback_reports",
        help_text="The version live in the environment when the report arrived.",
    )
    deployment = models.ForeignKey(
        "registry.Deployment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="feedback_reports",
    )
    category = models.CharField(
        max_length=20, choices=FeedbackCategory.choices, default=FeedbackCategory.CONCERN
    )
    channel = models.CharField(max_length=16, choices=FeedbackChannel.choices)
    text = models.TextField()
    flagged_critical = models.BooleanField(
        default=False, help_text="An operator marked the report critical when sending it."
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The token's user; empty for the public form.",
    )
    signal = models.OneToOneField(
        "playbooks.Signal",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="feedback_report",
    )
    status = models.CharField(
        max_length=16, choices=FeedbackStatus.choices, default=FeedbackStatus.RECEIVED
    )
    status_token_hash = models.CharField(max_length=64, unique=True, editable=False)
    public_reply = models.TextField(blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["model", "-received_at"], name="playbooks_feedback_model_idx")
        ]

    def __str__(self):
        return f"{self.reference} on {self.model}" if self.pk else "feedback report"

    @property
    def reference(self) -> str:
        """The number the reporter quotes: ``FB-`` and the id, six digits at least."""
        return f"FB-{self.pk:06d}" if self.pk else ""

    def clean(self):
        limit = settings.GOVREG_FEEDBACK_MAX_CHARS
        if not (self.text or "").strip():
            raise ValidationError({"text": "Say what happened."})
        if len(self.text) > limit:
            raise ValidationError(
                {"text": f"At most {limit} characters (GOVREG_FEEDBACK_MAX_CHARS)."}
            )


class IncidentNotice(models.Model):
    """What the team tells the public about one incident: what is known, what was done
    and what safeguards are in place. Only a published notice appears on the model's
    public card; every change is audited."""

    incident = models.OneToOneField(
        "playbooks.Incident", on_delete=models.CASCADE, related_name="public_notice"
    )
    title = models.CharField(max_length=200)
    what_is_known = models.TextField()
    what_was_done = models.TextField(blank=True)
    safeguards = models.TextField("safeguards in place", blank=True)
    status = models.CharField(
        max_length=16, choices=NoticeStatus.choices, default=NoticeStatus.DRAFT
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published_at", "-pk"]

    def __str__(self):
        return f"notice on incident {self.incident_id}: {self.title}"

    def clean(self):
        if not (self.what_is_known or "").strip():
            raise ValidationError({"what_is_known": "Say what is known."})
