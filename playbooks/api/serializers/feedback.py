"""Serializers of feedback reports and incident notices."""

from django.conf import settings
from rest_framework import serializers

from config.serializers import FullCleanSerializer
from playbooks.choices import FeedbackCategory, FeedbackStatus
from playbooks.models import FeedbackReport, IncidentNotice


class FeedbackSubmitSerializer(serializers.Serializer):
    environment = serializers.SlugField(
        help_text="Where the reporter met the model (e.g. production); the version is "
        "read from what served there."
    )
    text = serializers.CharField(trim_whitespace=True)
    category = serializers.ChoiceField(
        choices=FeedbackCategory.choices, default=FeedbackCategory.CONCERN
    )
    critical = serializers.BooleanField(
        default=False, help_text="The operator marks the report critical: it opens an incident."
    )

    def validate_text(self, value):
        limit = settings.GOVREG_FEEDBACK_MAX_CHARS
        if len(value) > limit:
            raise serializers.ValidationError(
                f"At most {limit} characters (GOVREG_FEEDBACK_MAX_CHARS)."
            )
        return value


class FeedbackReportSerializer(serializers.ModelSerializer):
    """A report as the model's team reads it, with what triage made of it."""

    reference = serializers.CharField(read_only=True)
    model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    environment = serializers.SlugRelatedField(slug_field="name", read_only=True)
    version = serializers.SerializerMethodField()
    submitted_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    replied_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    triage = serializers.SerializerMethodField()
    incident = serializers.SerializerMethodField()
    investigation_task = serializers.SerializerMethodField()

    class Meta:
        model = FeedbackReport
        fields = [
            "id",
            "reference",
            "model",
            "environment",
            "model_version",
            "version",
            "deployment",
            "category",
            "channel",
            "text",
            "flagged_critical",
            "submitted_by",
            "status",
            "public_reply",
            "replied_at",
            "replied_by",
            "received_at",
            "signal",
            "triage",
            "incident",
            "investigation_task",
        ]
        read_only_fields = fields

    def get_version(self, report) -> str | None:
        return report.model_version.version if report.model_version_id else None

    def get_triage(self, report) -> str | None:
        return report.signal.triage if report.signal_id else None

    def get_incident(self, report) -> int | None:
        return report.signal.incident_id if report.signal_id else None

    def get_investigation_task(self, report) -> int | None:
        return report.signal.investigation_task_id if report.signal_id else None


class FeedbackReceiptSerializer(FeedbackReportSerializer):
    """The answer to a new report: the report, and the status URL only the sender holds
    (shown once; its token is not stored)."""

    status_url = serializers.SerializerMethodField()

    class Meta(FeedbackReportSerializer.Meta):
        fields = [*FeedbackReportSerializer.Meta.fields, "status_url"]
        read_only_fields = fields

    def get_status_url(self, report) -> str:
        return self.context["status_url"]


class FeedbackReplySerializer(serializers.Serializer):
    reply = serializers.CharField(help_text="The answer the reporter reads on the status page.")
    status = serializers.ChoiceField(
        choices=FeedbackStatus.choices, default=FeedbackStatus.ANSWERED
    )


class FeedbackStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=FeedbackStatus.choices)


class IncidentNoticeSerializer(FullCleanSerializer):
    """An incident's public notice: what is known, what was done, the safeguards."""

    published_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    clean_exclude = ("incident",)  # the URL names it; the service sets it

    class Meta:
        model = IncidentNotice
        fields = [
            "id",
            "incident",
            "title",
            "what_is_known",
            "what_was_done",
            "safeguards",
            "status",
            "published_at",
            "published_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "incident",
            "status",
            "published_at",
            "published_by",
            "created_at",
            "updated_at",
        ]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")
