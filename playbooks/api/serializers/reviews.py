"""Post-incident reviews, drills and action items."""

from rest_framework import serializers

from accounts.api.fields import VisiblePrimaryKeyRelatedField
from config.serializers import FullCleanSerializer
from playbooks.api.fields import ScopedPrimaryKeyRelatedField
from playbooks.api.serializers.common import _username, _users
from playbooks.api.serializers.incidents import NoteSerializer
from playbooks.models import ActionItem, Drill, Incident, Playbook, PostIncidentReview
from registry.models import MLModel
from risk.api.fields import TeammateField
from risk.models import Evaluation, Risk, Threshold


class ActionItemSerializer(FullCleanSerializer):
    clean_unique = False  # uniqueness: DRF's validators and the database constraints
    owner = TeammateField(queryset=_users())
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
    evaluation = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
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


class ReviewSerializer(FullCleanSerializer):
    clean_unique = False  # uniqueness: DRF's validators and the database constraints
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


class DrillSerializer(FullCleanSerializer):
    clean_unique = False  # uniqueness: DRF's validators and the database constraints
    playbook = VisiblePrimaryKeyRelatedField(queryset=Playbook.objects.all())
    playbook_version = serializers.StringRelatedField(read_only=True, allow_null=True)
    participants = TeammateField(queryset=_users(), many=True, required=False)
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
    owner = TeammateField(queryset=_users())
    due_date = serializers.DateField()


class CompleteDrillSerializer(serializers.Serializer):
    what_went_wrong = serializers.CharField(required=False, allow_blank=True, default="")
    gaps = GapSerializer(many=True, required=False, default=list)
