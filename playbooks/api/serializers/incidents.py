"""Playbooks, their versions, incidents with steps, timeline and escalations."""

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.api.fields import TeamField, VisiblePrimaryKeyRelatedField, VisibleSlugRelatedField
from config.serializers import FullCleanSerializer
from playbooks.api.fields import ScopedPrimaryKeyRelatedField
from playbooks.api.serializers.common import _username
from playbooks.choices import SeriousCategory
from playbooks.models import (
    Escalation,
    Incident,
    Playbook,
    PlaybookVersion,
    StepCompletion,
    TimelineEntry,
)
from registry.models import Deployment, MLModel
from risk.models import Risk, Threshold


class PlaybookVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = PlaybookVersion
        fields = [
            "id",
            "number",
            "name",
            "description",
            "triggers",
            "steps",
            "decision_tree",
            "escalation_chain",
            "created_at",
            "created_by",
        ]
        read_only_fields = fields

    def get_created_by(self, obj) -> str | None:
        return _username(obj.created_by)


class PlaybookSerializer(FullCleanSerializer):
    clean_unique = False  # uniqueness: DRF's validators and the database constraints
    team = TeamField()
    thresholds = ScopedPrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=Threshold.objects.all(),
        scope_path="risk",
        scope_model=Risk,
    )

    class Meta:
        model = Playbook
        fields = [
            "id",
            "team",
            "name",
            "description",
            "risk_category",
            "thresholds",
            "label_matchers",
            "unthresholded_is_critical",
            "steps",
            "decision_tree",
            "escalation_chain",
            "active",
            "current_version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "current_version", "created_at", "updated_at"]


class TimelineEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEntry
        fields = ["id", "kind", "at", "actor_name", "message", "data", "signal"]
        read_only_fields = fields


class EscalationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Escalation
        fields = [
            "reason",
            "level",
            "group_name",
            "minutes",
            "notified_at",
            "recipients",
            "webhook_state",
            "webhook_attempts",
            "webhook_delivered_at",
        ]
        read_only_fields = fields


class StepCompletionSerializer(serializers.ModelSerializer):
    completed_by = serializers.SerializerMethodField()

    class Meta:
        model = StepCompletion
        fields = ["step", "completed_at", "completed_by", "note"]
        read_only_fields = fields

    def get_completed_by(self, obj) -> str | None:
        return _username(obj.completed_by)


class StoredDateTimeField(serializers.DateTimeField):
    """A moment kept as ISO text in a JSON field, rendered like every other date-time."""

    def to_representation(self, value):
        if isinstance(value, str):
            value = parse_datetime(value)
        return super().to_representation(value)


class ReportDeadlineSerializer(serializers.Serializer):
    """One deadline the incident's category and awareness gave (``deadline_history``)."""

    deadline = StoredDateTimeField(read_only=True)
    category = serializers.ChoiceField(choices=SeriousCategory.choices, read_only=True)
    aware_at = StoredDateTimeField(read_only=True)
    at = StoredDateTimeField(read_only=True, help_text="When it was recorded.")
    by = serializers.CharField(read_only=True, help_text="Who recorded it.")
    in_force = serializers.BooleanField(
        read_only=True,
        help_text="Whether it became the deadline in force; a later deadline without a "
        "reason from a change-report-deadline decider does not.",
    )
    reason = serializers.CharField(read_only=True, allow_blank=True)


class IncidentSerializer(FullCleanSerializer):
    clean_unique = False  # uniqueness: DRF's validators and the database constraints
    model = VisibleSlugRelatedField(slug_field="name", queryset=MLModel.objects.all())
    playbook = VisiblePrimaryKeyRelatedField(
        queryset=Playbook.objects.all(), required=False, allow_null=True, write_only=True
    )
    playbook_version = serializers.StringRelatedField(read_only=True, allow_null=True)
    model_version = serializers.SlugRelatedField(
        slug_field="version", read_only=True, allow_null=True
    )
    deployment = ScopedPrimaryKeyRelatedField(
        queryset=Deployment.objects.select_related("model_version"),
        scope_path="model",
        scope_model=MLModel,
        required=False,
        allow_null=True,
    )
    risks = VisiblePrimaryKeyRelatedField(many=True, required=False, queryset=Risk.objects.all())
    dataset_versions = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    steps = serializers.SerializerMethodField()
    review = serializers.SerializerMethodField()
    acknowledged_by = serializers.SerializerMethodField()
    contained_by = serializers.SerializerMethodField()
    deadline_history = ReportDeadlineSerializer(many=True, read_only=True)
    report_overdue = serializers.BooleanField(
        read_only=True,
        help_text="The report deadline passed with no report recorded and no "
        "not-reportable determination.",
    )
    not_reportable_by = serializers.SerializerMethodField()
    clean_exclude = ("model",)

    class Meta:
        model = Incident
        fields = [
            "id",
            "title",
            "description",
            "severity",
            "status",
            "model",
            "model_version",
            "deployment",
            "environment_name",
            "dataset_versions",
            "risks",
            "playbook",
            "playbook_version",
            "steps",
            "escalation_level",
            "opened_at",
            "acknowledged_at",
            "acknowledged_by",
            "contained_at",
            "contained_by",
            "resolved_at",
            "closed_at",
            "serious_category",
            "aware_at",
            "report_deadline",
            "deadline_history",
            "deadline_warned_at",
            "report_overdue",
            "report_overdue_escalated_at",
            "reported_at",
            "not_reportable_at",
            "not_reportable_by",
            "not_reportable_reason",
            "occurred_at",
            "affected_member_states",
            "persons_affected",
            "causal_link",
            "immediate_actions",
            "other_regimes_notified",
            "review",
        ]
        read_only_fields = [
            "id",
            "status",
            "escalation_level",
            "opened_at",
            "acknowledged_at",
            "contained_at",
            "resolved_at",
            "closed_at",
            "serious_category",
            "aware_at",
            "report_deadline",
            "deadline_warned_at",
            "report_overdue_escalated_at",
            "reported_at",
            "not_reportable_at",
            "not_reportable_reason",
        ]

    def get_steps(self, obj) -> list[dict]:
        version = obj.playbook_version
        if version is None:
            return []
        done = {c.step: c for c in obj.completions.all()}
        out = []
        for number, step in enumerate(version.steps, start=1):
            completion = done.get(number)
            out.append(
                {
                    "step": number,
                    "kind": step["kind"],
                    "text": step["text"],
                    "completed_at": completion.completed_at if completion else None,
                    "completed_by": _username(completion.completed_by) if completion else None,
                    "note": completion.note if completion else "",
                }
            )
        return out

    def get_review(self, obj) -> dict | None:
        review = getattr(obj, "review", None)
        return {"id": review.pk, "status": review.status} if review else None

    def get_acknowledged_by(self, obj) -> str | None:
        return _username(obj.acknowledged_by)

    def get_contained_by(self, obj) -> str | None:
        return _username(obj.contained_by)

    def get_not_reportable_by(self, obj) -> str | None:
        return _username(obj.not_reportable_by)

    def validate(self, attrs):
        playbook = attrs.get("playbook")
        model = attrs.get("model") or getattr(self.instance, "model", None)
        if playbook is not None and model is not None and playbook.team_id != model.team_id:
            raise serializers.ValidationError(
                {"playbook": "The playbook belongs to another team than the model."}
            )
        if self.instance is not None and "model" in attrs and attrs["model"] != self.instance.model:
            raise serializers.ValidationError(
                {"model": "An incident cannot move to another model."}
            )
        clean_attrs = {k: v for k, v in attrs.items() if k != "playbook"}
        super().validate(clean_attrs)
        return attrs


class IncidentDetailSerializer(IncidentSerializer):
    timeline = TimelineEntrySerializer(many=True, read_only=True)
    escalations = EscalationSerializer(many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "timeline", "escalations"]


@extend_schema_serializer(component_name="IncidentNote")
class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


@extend_schema_serializer(component_name="IncidentContain")
class ContainSerializer(NoteSerializer):
    rollback = serializers.BooleanField(required=False, default=False)


class CommentSerializer(serializers.Serializer):
    text = serializers.CharField()


class SeriousSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=SeriousCategory.choices, allow_blank=True)
    aware_at = serializers.DateTimeField(required=False, allow_null=True)
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Why the report deadline moves later; needs the change-report-deadline "
        "decision (approver role and approve right on the model). Without it, the earlier "
        "deadline stays in force.",
    )


class ReportSerializer(serializers.Serializer):
    reported_at = serializers.DateTimeField(
        required=False,
        help_text="When the report reached the authority (default: now); not before aware_at, "
        "not in the future.",
    )


class NotReportableSerializer(serializers.Serializer):
    reason = serializers.CharField(
        help_text="Why this serious incident is not reported to the authority."
    )
