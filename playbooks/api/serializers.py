import math

from django.contrib.auth import get_user_model
from rest_framework import serializers

from accounts.api.fields import TeamField, VisiblePrimaryKeyRelatedField, VisibleSlugRelatedField
from playbooks.api.fields import ScopedPrimaryKeyRelatedField
from playbooks.choices import AlertStatus, SeriousCategory
from playbooks.models import (
    ActionItem,
    Drill,
    Escalation,
    Incident,
    InvestigationTask,
    Playbook,
    PlaybookVersion,
    PostIncidentReview,
    Signal,
    StepCompletion,
    TimelineEntry,
)
from registry.models import Deployment, MLModel
from risk.models import Evaluation, Risk, Threshold


def _username(user):
    return user.get_username() if user is not None else None


class FullCleanMixin:
    """Validate through the model's clean(), so API, admin and services agree."""

    clean_exclude: tuple[str, ...] = ()

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        concrete = {f.name for f in model._meta.concrete_fields}
        values = {}
        if self.instance is not None:
            values = {name: getattr(self.instance, name) for name in concrete}
        values.update({k: v for k, v in attrs.items() if k in concrete})
        instance = model(**values)
        if self.instance is not None:
            instance.pk = self.instance.pk
            instance._state.adding = False  # constraints exclude the row itself
        instance.full_clean(exclude=list(self.clean_exclude), validate_unique=False)
        return attrs


# --- playbooks -----------------------------------------------------------------


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


class PlaybookSerializer(FullCleanMixin, serializers.ModelSerializer):
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

    def validate_team(self, team):
        if self.instance is not None and team != self.instance.team:
            raise serializers.ValidationError("A playbook cannot move to another team.")
        return team


# --- signals ---------------------------------------------------------------------


class SignalSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    model_version = serializers.SlugRelatedField(slug_field="version", read_only=True)
    playbook_version = serializers.StringRelatedField()

    class Meta:
        model = Signal
        fields = [
            "id",
            "source",
            "sender",
            "received_at",
            "observed_at",
            "metric",
            "value",
            "labels",
            "annotations",
            "fingerprint",
            "alert_status",
            "starts_at",
            "ends_at",
            "generator_url",
            "model_name",
            "version_name",
            "environment_name",
            "model",
            "model_version",
            "deployment",
            "triage",
            "triage_reason",
            "threshold",
            "threshold_warning",
            "threshold_critical",
            "threshold_comparator",
            "hypothesis",
            "playbook_version",
            "incident",
            "investigation_task",
            "mapped_at",
        ]
        read_only_fields = fields


class PlainSignalSerializer(serializers.Serializer):
    """``POST /api/signals/``: one observation from any monitoring system."""

    metric = serializers.CharField(max_length=200)
    value = serializers.FloatField()
    model = serializers.CharField(max_length=100)
    version = serializers.CharField(max_length=100, required=False, allow_blank=True)
    deployment = serializers.IntegerField(required=False, min_value=1)
    environment = serializers.CharField(max_length=100, required=False, allow_blank=True)
    observed_at = serializers.DateTimeField(required=False)
    source = serializers.CharField(max_length=200, required=False, allow_blank=True)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)

    def validate_value(self, value):
        if not math.isfinite(value):
            raise serializers.ValidationError("Give a finite number.")
        return value


class AlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True))
    annotations = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    startsAt = serializers.DateTimeField()
    endsAt = serializers.DateTimeField(required=False, allow_null=True)
    generatorURL = serializers.CharField(required=False, allow_blank=True, default="")
    fingerprint = serializers.CharField(required=False, allow_blank=True, default="")


class AlertmanagerPayloadSerializer(serializers.Serializer):
    """Alertmanager's webhook body, version 4."""

    version = serializers.CharField()
    groupKey = serializers.CharField(required=False, allow_blank=True, default="")
    truncatedAlerts = serializers.IntegerField(required=False, default=0)
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    receiver = serializers.CharField(allow_blank=True)
    groupLabels = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    commonLabels = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    commonAnnotations = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    externalURL = serializers.CharField(required=False, allow_blank=True, default="")
    alerts = AlertSerializer(many=True, allow_empty=False)

    def validate_version(self, value):
        if value != "4":
            raise serializers.ValidationError(f"Only version 4 is understood, got {value!r}.")
        return value


class MapSignalSerializer(serializers.Serializer):
    model = VisibleSlugRelatedField(slug_field="name", queryset=MLModel.objects.all())
    version = serializers.CharField(max_length=100, required=False, allow_blank=True)
    environment = serializers.CharField(max_length=100, required=False, allow_blank=True)


class InvestigationTaskSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    closed_by = serializers.SerializerMethodField()

    class Meta:
        model = InvestigationTask
        fields = [
            "id",
            "model",
            "title",
            "description",
            "status",
            "created_at",
            "closed_at",
            "closed_by",
            "resolution",
        ]
        read_only_fields = fields

    def get_closed_by(self, obj) -> str | None:
        return _username(obj.closed_by)


# --- incidents --------------------------------------------------------------------


class TimelineEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEntry
        fields = ["id", "kind", "at", "actor_name", "message", "data", "signal"]
        read_only_fields = fields


class EscalationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Escalation
        fields = [
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


class IncidentSerializer(FullCleanMixin, serializers.ModelSerializer):
    model = VisibleSlugRelatedField(slug_field="name", queryset=MLModel.objects.all())
    playbook = VisiblePrimaryKeyRelatedField(
        queryset=Playbook.objects.all(), required=False, allow_null=True, write_only=True
    )
    playbook_version = serializers.StringRelatedField(read_only=True)
    model_version = serializers.SlugRelatedField(slug_field="version", read_only=True)
    deployment = ScopedPrimaryKeyRelatedField(
        queryset=Deployment.objects.select_related("model_version"),
        scope_path="model",
        scope_model=MLModel,
        required=False,
        allow_null=True,
    )
    risks = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    dataset_versions = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    steps = serializers.SerializerMethodField()
    review = serializers.SerializerMethodField()
    acknowledged_by = serializers.SerializerMethodField()
    contained_by = serializers.SerializerMethodField()
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
            "deadline_warned_at",
            "reported_at",
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
            "reported_at",
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
        FullCleanMixin.validate(self, clean_attrs)
        return attrs


class IncidentDetailSerializer(IncidentSerializer):
    timeline = TimelineEntrySerializer(many=True, read_only=True)
    escalations = EscalationSerializer(many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "timeline", "escalations"]


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ContainSerializer(NoteSerializer):
    rollback = serializers.BooleanField(required=False, default=False)


class CommentSerializer(serializers.Serializer):
    text = serializers.CharField()


class SeriousSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=SeriousCategory.choices, allow_blank=True)
    aware_at = serializers.DateTimeField(required=False, allow_null=True)


class ReportSerializer(serializers.Serializer):
    reported_at = serializers.DateTimeField(required=False)


# --- reviews, drills, action items -----------------------------------------------------


def _users():
    return get_user_model().objects.filter(is_active=True)


class ActionItemSerializer(FullCleanMixin, serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", queryset=_users())
    review = ScopedPrimaryKeyRelatedField(
        queryset=PostIncidentReview.objects.all(),
        scope_path="incident__model",
        scope_model=MLModel,
        required=False,
        allow_null=True,
    )
    drill = ScopedPrimaryKeyRelatedField(
        queryset=Drill.objects.all(),
        scope_path="playbook",
        scope_model=Playbook,
        required=False,
        allow_null=True,
    )
    risk = VisiblePrimaryKeyRelatedField(
        queryset=Risk.objects.all(), required=False, allow_null=True
    )
    threshold = ScopedPrimaryKeyRelatedField(
        queryset=Threshold.objects.all(),
        scope_path="risk",
        scope_model=Risk,
        required=False,
        allow_null=True,
    )
    evaluation = serializers.PrimaryKeyRelatedField(read_only=True)
    closed_by = serializers.SerializerMethodField()

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "review",
            "drill",
            "title",
            "description",
            "owner",
            "due_date",
            "status",
            "risk",
            "new_residual_likelihood",
            "new_residual_impact",
            "threshold",
            "new_warning_value",
            "new_critical_value",
            "evaluation_to_add",
            "evaluation",
            "closed_at",
            "closed_by",
            "outcome",
            "created_at",
        ]
        read_only_fields = ["id", "status", "evaluation", "closed_at", "outcome", "created_at"]

    def get_closed_by(self, obj) -> str | None:
        return _username(obj.closed_by)

    def validate(self, attrs):
        if self.instance is not None:
            for name in ("review", "drill"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError({name: "An action item cannot move."})
        return super().validate(attrs)


class CompleteActionItemSerializer(NoteSerializer):
    evaluation = ScopedPrimaryKeyRelatedField(
        queryset=Evaluation.objects.all(),
        scope_path="model_version__model",
        scope_model=MLModel,
        required=False,
        allow_null=True,
    )


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField()


class ReviewSerializer(FullCleanMixin, serializers.ModelSerializer):
    incident = ScopedPrimaryKeyRelatedField(
        queryset=Incident.objects.all(), scope_path="model", scope_model=MLModel
    )
    action_items = ActionItemSerializer(many=True, read_only=True)
    completed_by = serializers.SerializerMethodField()

    class Meta:
        model = PostIncidentReview
        fields = [
            "id",
            "incident",
            "summary",
            "root_cause",
            "resolution",
            "lessons",
            "status",
            "completed_at",
            "completed_by",
            "action_items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "completed_at", "created_at", "updated_at"]

    def get_completed_by(self, obj) -> str | None:
        return _username(obj.completed_by)

    def validate_incident(self, incident):
        if self.instance is not None and incident != self.instance.incident:
            raise serializers.ValidationError("A review cannot move to another incident.")
        if self.instance is None and PostIncidentReview.objects.filter(incident=incident).exists():
            raise serializers.ValidationError("This incident already has a review.")
        return incident


class DrillSerializer(FullCleanMixin, serializers.ModelSerializer):
    playbook = VisiblePrimaryKeyRelatedField(queryset=Playbook.objects.all())
    playbook_version = serializers.StringRelatedField(read_only=True)
    participants = serializers.SlugRelatedField(
        slug_field="username", queryset=_users(), many=True, required=False
    )
    seconds_to_acknowledge = serializers.FloatField(read_only=True)
    seconds_to_contain = serializers.FloatField(read_only=True)
    action_items = ActionItemSerializer(many=True, read_only=True)

    class Meta:
        model = Drill
        fields = [
            "id",
            "playbook",
            "playbook_version",
            "title",
            "scheduled_for",
            "participants",
            "status",
            "started_at",
            "acknowledged_at",
            "contained_at",
            "completed_at",
            "seconds_to_acknowledge",
            "seconds_to_contain",
            "what_went_wrong",
            "notes",
            "action_items",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):
        playbook = attrs.get("playbook") or getattr(self.instance, "playbook", None)
        strangers = [
            u.get_username()
            for u in attrs.get("participants", [])
            if playbook is not None and not u.groups.filter(pk=playbook.team_id).exists()
        ]
        if strangers:
            raise serializers.ValidationError(
                {"participants": f"Not members of the playbook's team: {', '.join(strangers)}."}
            )
        return super().validate({k: v for k, v in attrs.items() if k != "participants"}) | {
            k: v for k, v in attrs.items() if k == "participants"
        }


class GapSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    owner = serializers.SlugRelatedField(slug_field="username", queryset=_users())
    due_date = serializers.DateField()


class CompleteDrillSerializer(serializers.Serializer):
    what_went_wrong = serializers.CharField(required=False, allow_blank=True, default="")
    gaps = GapSerializer(many=True, required=False, default=list)
