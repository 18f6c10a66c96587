"""Red-team exercises and findings: ``/api/redteam-exercises/`` (scoped to the owning
team; board, auditors and admins read all) and ``/api/redteam-findings/`` (scoped
through their exercise). Findings are recorded through ``risk.redteam``, which
creates or raises their risk; their status is never written by hand."""

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from accounts.api.base import ScopedModelViewSet
from accounts.api.fields import TeamField, VisiblePrimaryKeyRelatedField
from accounts.permissions import may
from config.serializers import FullCleanSerializer
from registry.models import ModelVersion
from risk import redteam
from risk.api.fields import TeammateField, VisibleThroughModelField
from risk.api.views import RefuseProtectedDelete
from risk.choices import EvaluationKind, RiskCategory
from risk.filtersets import RedTeamExerciseFilter, RedTeamFindingFilter
from risk.models import RedTeamExercise, RedTeamFinding, Risk

UNKNOWN_USER = TeammateField.default_error_messages["does_not_exist"]


class FindingSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = RedTeamFinding
        fields = ["id", "title", "severity", "status"]
        read_only_fields = fields


class RedTeamExerciseSerializer(FullCleanSerializer):
    team = TeamField()
    model_versions = VisibleThroughModelField(many=True, queryset=ModelVersion.objects.all())
    participants = TeammateField(many=True, required=False)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    findings = FindingSummarySerializer(many=True, read_only=True)

    class Meta:
        model = RedTeamExercise
        validators = []  # full_clean checks the model's constraints
        fields = [
            "id",
            "title",
            "team",
            "scope",
            "method",
            "model_versions",
            "participants",
            "starts_on",
            "ends_on",
            "status",
            "created_by",
            "findings",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_model_versions(self, versions):
        if not versions:
            raise serializers.ValidationError("Name at least one model version in scope.")
        return versions

    def validate(self, attrs):
        team = attrs.get("team") or getattr(self.instance, "team", None)
        if team is not None and "participants" in attrs:
            members = set(
                team.user_set.filter(pk__in=[u.pk for u in attrs["participants"]]).values_list(
                    "pk", flat=True
                )
            )
            # someone outside the team reads as an unknown name (no other team is enumerated)
            for user in attrs["participants"]:
                if user.pk not in members:
                    raise serializers.ValidationError(
                        {
                            "participants": UNKNOWN_USER.format(
                                slug_name="username", value=user.get_username()
                            )
                        }
                    )
        return super().validate(attrs)


class NewRiskSerializer(serializers.Serializer):
    """The risk a finding creates, in the exercise's team (residual = inherent)."""

    title = serializers.CharField(max_length=200)
    likelihood = serializers.IntegerField(min_value=1)
    impact = serializers.IntegerField(min_value=1)
    owner = TeammateField()
    category = serializers.ChoiceField(choices=RiskCategory.choices, default=RiskCategory.SECURITY)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class RaiseRiskSerializer(serializers.Serializer):
    """The scores the finding raises the linked risk's residual likelihood and impact to."""

    likelihood = serializers.IntegerField(min_value=1)
    impact = serializers.IntegerField(min_value=1)


class RedTeamFindingSerializer(FullCleanSerializer):
    """A finding. On create, ``risk`` names an existing risk (with ``raise_to`` its
    residual scores rise) or ``new_risk`` describes one to register."""

    clean_exclude = ("risk",)
    exercise = VisiblePrimaryKeyRelatedField(queryset=RedTeamExercise.objects.all())
    risk = VisiblePrimaryKeyRelatedField(queryset=Risk.objects.all(), required=False)
    new_risk = NewRiskSerializer(write_only=True, required=False)
    raise_to = RaiseRiskSerializer(write_only=True, required=False)
    evaluation_name = serializers.CharField(max_length=500, required=False)
    evaluation_kind = serializers.SerializerMethodField()
    reported_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = RedTeamFinding
        fields = [
            "id",
            "exercise",
            "title",
            "severity",
            "reproduction",
            "status",
            "risk",
            "new_risk",
            "raise_to",
            "evaluation_kind",
            "evaluation_name",
            "success_criterion",
            "fixed_by",
            "acceptance",
            "status_changed_at",
            "reported_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "fixed_by",
            "acceptance",
            "status_changed_at",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=[EvaluationKind.RED_TEAM.value]))
    def get_evaluation_kind(self, finding) -> str:
        return EvaluationKind.RED_TEAM.value

    def validate(self, attrs):
        if self.instance is None:
            if ("risk" in attrs) == ("new_risk" in attrs):
                raise serializers.ValidationError(
                    {"risk": "Name the risk the finding raises, or describe it in new_risk."}
                )
            if "raise_to" in attrs and "risk" not in attrs:
                raise serializers.ValidationError(
                    {"raise_to": "raise_to raises an existing risk: name it in risk."}
                )
        else:
            for name in ("exercise", "risk"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError(
                        {name: f"A finding's {name} is fixed once it is recorded."}
                    )
            for name in ("new_risk", "raise_to"):
                if name in attrs:
                    raise serializers.ValidationError(
                        {name: "Given only when the finding is recorded."}
                    )
        return super().validate(attrs)

    def build(self, attrs):
        instance = super().build(attrs)
        if not instance.evaluation_name and instance.exercise_id:
            instance.evaluation_name = redteam.default_evaluation_name(
                instance.exercise, instance.title or ""
            )
        return instance


def _exercises():
    return (
        RedTeamExercise.objects.select_related("team", "created_by")
        .prefetch_related(
            "model_versions",
            "participants",
            Prefetch("findings", queryset=RedTeamFinding.objects.order_by("pk")),
        )
        .order_by("-starts_on", "-pk")
    )


class RedTeamExerciseViewSet(RefuseProtectedDelete, ScopedModelViewSet):
    """Red-team exercises, scoped to the owning team (board, auditors and admins see all).
    The status moves planned -> running -> completed, or to cancelled."""

    queryset = _exercises()
    serializer_class = RedTeamExerciseSerializer
    filterset_class = RedTeamExerciseFilter
    search_fields = ["title", "scope", "method"]
    ordering_fields = ["starts_on", "ends_on", "created_at", "title"]

    def _save(self, serializer, exercise):
        data = dict(serializer.validated_data)
        versions = data.pop("model_versions", None)
        participants = data.pop("participants", None)
        for name, value in data.items():
            setattr(exercise, name, value)
        exercise = redteam.save_exercise(
            exercise, model_versions=versions, participants=participants, user=self.request.user
        )
        serializer.instance = _exercises().get(pk=exercise.pk)

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        self._save(serializer, RedTeamExercise())

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)


def _findings():
    return RedTeamFinding.objects.select_related("exercise", "reported_by").order_by("-pk")


class RedTeamFindingViewSet(RefuseProtectedDelete, ScopedModelViewSet):
    """Findings of the exercises the caller may see; the exercise's team records them."""

    queryset = _findings()
    serializer_class = RedTeamFindingSerializer
    filterset_class = RedTeamFindingFilter
    scope_path = "exercise"
    scope_model = RedTeamExercise
    search_fields = ["title", "reproduction"]
    ordering_fields = ["created_at", "severity", "title"]

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        data = dict(serializer.validated_data)
        user = self.request.user
        risk = data.get("risk")
        raise_to = data.get("raise_to")
        if raise_to is not None and not may(user, "change", risk):
            raise PermissionDenied("Raising this risk takes the change right on it.")
        new_risk = data.get("new_risk")
        finding = redteam.record_finding(
            data["exercise"],
            user,
            title=data["title"],
            severity=data["severity"],
            reproduction=data["reproduction"],
            risk=risk,
            new_risk=redteam.NewRisk(**new_risk) if new_risk else None,
            raise_to=(raise_to["likelihood"], raise_to["impact"]) if raise_to else None,
            evaluation_name=data.get("evaluation_name", ""),
            success_criterion=data.get("success_criterion", ""),
        )
        serializer.instance = _findings().get(pk=finding.pk)

    def perform_update(self, serializer):
        finding = serializer.instance
        with transaction.atomic():
            for name, value in serializer.validated_data.items():
                setattr(finding, name, value)
            redteam.update_finding(finding)
        serializer.instance = _findings().get(pk=finding.pk)
