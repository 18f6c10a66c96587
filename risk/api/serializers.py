"""Serializers of the risk register. Validation lives in the models: each serializer
builds the record it would save and calls ``full_clean`` on it
(``config.serializers.FullCleanSerializer``)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import TeamField, VisiblePrimaryKeyRelatedField, VisibleSlugRelatedField
from config.serializers import FullCleanSerializer
from lineage.models import DatasetVersion
from registry.models import Deployment, Feature, MLModel, ModelVersion
from risk import sufficiency
from risk.api.fields import MinutesField, TeammateField, VisibleThroughModelField
from risk.choices import (
    COMPARATOR_ALIASES,
    Comparator,
    EvaluationKind,
    EvaluationOutcome,
)
from risk.models import (
    Control,
    Evaluation,
    HeartbeatState,
    Reminder,
    RequiredEvaluation,
    Risk,
    RiskAcceptance,
    RiskAcceptanceApproval,
    RiskMatrix,
    Threshold,
    ThresholdRecalibration,
)
from risk.sufficiency import Sufficiency


class RiskMatrixSerializer(FullCleanSerializer):
    likelihood_size = serializers.IntegerField(read_only=True)
    impact_size = serializers.IntegerField(read_only=True)

    class Meta:
        model = RiskMatrix
        validators = []  # full_clean checks the model's constraints
        fields = [
            "id",
            "name",
            "description",
            "likelihood_labels",
            "impact_labels",
            "levels",
            "likelihood_size",
            "impact_size",
            "is_default",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class ThresholdStateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    metric = serializers.CharField()
    heartbeat = serializers.ChoiceField(choices=HeartbeatState.choices)
    last_reading_at = serializers.DateTimeField(allow_null=True)
    expected_every_minutes = serializers.IntegerField(allow_null=True)


class EvaluationStateSerializer(serializers.Serializer):
    kind = serializers.CharField()
    last_passed_at = serializers.DateTimeField(allow_null=True)
    failing = serializers.ListField(child=serializers.CharField())


class MonitoringSufficiencySerializer(serializers.Serializer):
    """Computed from the risk's thresholds, evaluations and controls (``risk.sufficiency``)."""

    level = serializers.ChoiceField(choices=Sufficiency.choices)
    reasons = serializers.ListField(child=serializers.CharField())
    thresholds = ThresholdStateSerializer(many=True)
    evaluations = EvaluationStateSerializer(many=True)
    controls_working = serializers.IntegerField()
    controls_planned = serializers.IntegerField()


class RiskSerializer(FullCleanSerializer):
    team = TeamField()
    owner = TeammateField()
    matrix = serializers.PrimaryKeyRelatedField(queryset=RiskMatrix.objects.all(), required=False)
    models = VisibleSlugRelatedField(
        source="ml_models",
        slug_field="name",
        many=True,
        queryset=MLModel.objects.all(),
        required=False,
    )
    model_versions = VisibleThroughModelField(
        many=True, queryset=ModelVersion.objects.all(), required=False
    )
    dataset_versions = serializers.PrimaryKeyRelatedField(
        many=True, queryset=DatasetVersion.objects.all(), required=False
    )
    features = VisibleSlugRelatedField(
        slug_field="name", many=True, queryset=Feature.objects.all(), required=False
    )
    deployments = VisibleThroughModelField(
        many=True, queryset=Deployment.objects.all(), required=False
    )
    above_appetite = serializers.BooleanField(read_only=True)
    review_state = serializers.SerializerMethodField()
    monitoring = serializers.SerializerMethodField()

    class Meta:
        model = Risk
        validators = []  # full_clean checks the model's constraints
        fields = [
            "id",
            "title",
            "description",
            "category",
            "hypothesis",
            "team",
            "owner",
            "matrix",
            "inherent_likelihood",
            "inherent_impact",
            "inherent_level",
            "residual_likelihood",
            "residual_impact",
            "residual_level",
            "appetite",
            "above_appetite",
            "treatment",
            "status",
            "review_cadence_days",
            "next_review_date",
            "last_reviewed_at",
            "review_state",
            "monitoring",
            "models",
            "model_versions",
            "dataset_versions",
            "features",
            "deployments",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "inherent_level",
            "residual_level",
            "last_reviewed_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"next_review_date": {"required": False}}

    def get_review_state(self, risk) -> str | None:
        return risk.review_state()

    @extend_schema_field(MonitoringSufficiencySerializer)
    def get_monitoring(self, risk):
        """The risk's monitoring sufficiency; for a list, computed once for the page."""
        known = self.context.setdefault("sufficiency", {})
        if risk.pk not in known:
            rows = None
            if isinstance(self.parent, serializers.ListSerializer):
                rows = self.parent.instance
            known.update(sufficiency.reports(list(rows) if rows is not None else [risk]))
        return MonitoringSufficiencySerializer(known[risk.pk]).data

    def validate(self, attrs):
        # the team is fixed by TeamField, as every record's
        if self.instance is not None and attrs.get("matrix", self.instance.matrix) != (
            self.instance.matrix
        ):
            raise serializers.ValidationError(
                {"matrix": "The matrix of a risk is fixed once it is registered."}
            )
        # "accepted only through an acceptance request" is the model's rule (Risk.clean)
        return super().validate(attrs)


class RiskReviewSerializer(serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class ControlSerializer(FullCleanSerializer):
    risk = VisiblePrimaryKeyRelatedField(queryset=Risk.objects.all())
    owner = TeammateField()

    class Meta:
        model = Control
        validators = []  # full_clean checks the model's constraints
        fields = [
            "id",
            "risk",
            "title",
            "description",
            "owner",
            "status",
            "evidence_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate(self, attrs):
        risk = attrs.get("risk")
        if self.instance is not None and risk is not None and risk != self.instance.risk:
            raise serializers.ValidationError({"risk": "A control stays with its risk."})
        return super().validate(attrs)


class RiskAcceptanceApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver_username", read_only=True)

    class Meta:
        model = RiskAcceptanceApproval
        fields = ["id", "approver", "roles", "verdict", "comment", "created_at"]
        read_only_fields = fields


class RiskAcceptanceSerializer(FullCleanSerializer):
    risk = serializers.PrimaryKeyRelatedField(read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    approvals = RiskAcceptanceApprovalSerializer(many=True, read_only=True)
    valid = serializers.SerializerMethodField()

    class Meta:
        model = RiskAcceptance
        validators = []  # full_clean checks the model's constraints
        fields = [
            "id",
            "risk",
            "status",
            "valid",
            "justification",
            "expires_at",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_reason",
            "approvals",
        ]
        read_only_fields = [
            "id",
            "status",
            "requested_at",
            "decided_at",
            "decision_reason",
        ]

    def get_valid(self, acceptance) -> bool:
        return acceptance.is_valid()

    def build(self, attrs):
        instance = super().build(attrs)
        instance.risk = self.context["risk"]
        instance.requested_by = self.context["request"].user
        return instance


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField()


class ComparatorField(serializers.ChoiceField):
    """gt, gte, lt or lte; "above" and "below" are read as gt and lt."""

    def __init__(self, **kwargs):
        super().__init__(choices=Comparator.choices, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and data.strip().lower() in COMPARATOR_ALIASES:
            data = COMPARATOR_ALIASES[data.strip().lower()].value
        return super().to_internal_value(data)


class ThresholdRecalibrationSerializer(serializers.ModelSerializer):
    changed_by = serializers.CharField(source="changed_by_username", read_only=True)

    class Meta:
        model = ThresholdRecalibration
        fields = [
            "id",
            "old_warning_value",
            "old_critical_value",
            "new_warning_value",
            "new_critical_value",
            "reason",
            "changed_by",
            "source_type",
            "source_id",
            "source_label",
            "created_at",
        ]
        read_only_fields = fields


class ThresholdSerializer(FullCleanSerializer):
    risk = VisiblePrimaryKeyRelatedField(queryset=Risk.objects.all())
    model_version = VisibleThroughModelField(
        queryset=ModelVersion.objects.all(), required=False, allow_null=True
    )
    deployment = VisibleThroughModelField(
        queryset=Deployment.objects.all(), required=False, allow_null=True
    )
    comparator = ComparatorField()
    recalibrations = ThresholdRecalibrationSerializer(many=True, read_only=True)
    expected_every_minutes = MinutesField(
        source="expected_every",
        required=False,
        allow_null=True,
        minimum=1,
        help_text="A reading is expected at least this often (heartbeat); null: none.",
    )
    grace_minutes = MinutesField(
        source="grace",
        required=False,
        minimum=0,
        help_text="Minutes a reading may be late past the cadence before the monitor is silent.",
    )
    heartbeat = serializers.ChoiceField(
        choices=HeartbeatState.choices,
        read_only=True,
        help_text="off, waiting (no reading yet), up, late (in the grace period) or silent.",
    )
    next_reading_due = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Threshold
        validators = []  # full_clean checks the model's constraints
        fields = [
            "id",
            "risk",
            "model_version",
            "deployment",
            "metric",
            "comparator",
            "warning_value",
            "critical_value",
            "hypothesis",
            "expected_every_minutes",
            "grace_minutes",
            "last_reading_at",
            "silent_since",
            "heartbeat",
            "next_reading_due",
            "recalibrations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_reading_at", "silent_since", "created_at", "updated_at"]

    def validate(self, attrs):
        if self.instance is not None:
            for name in ("warning_value", "critical_value"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError(
                        {
                            name: "Values change through a recalibration that keeps the old "
                            f"ones: POST /api/thresholds/{self.instance.pk}/recalibrate/."
                        }
                    )
            for name in ("risk", "model_version", "deployment"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError(
                        {name: "Create a new threshold instead of moving this one."}
                    )
        return super().validate(attrs)


class RecalibrateSerializer(serializers.Serializer):
    warning_value = serializers.FloatField()
    critical_value = serializers.FloatField()
    reason = serializers.CharField()


class EvaluationSerializer(FullCleanSerializer):
    """A JSON evaluation. ``passed`` (true/false) or ``outcome`` says how it went."""

    model_version = serializers.PrimaryKeyRelatedField(read_only=True)
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    kind = serializers.ChoiceField(choices=EvaluationKind.choices)
    name = serializers.CharField(max_length=500, required=False)
    outcome = serializers.ChoiceField(choices=EvaluationOutcome.choices, required=False)
    passed = serializers.BooleanField(required=False)
    reviewer = TeammateField(required=False, allow_null=True)
    submitted_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Evaluation
        validators = []  # full_clean checks the model's constraints
        fields = [
            "id",
            "model_version",
            "model",
            "kind",
            "name",
            "suite",
            "hypothesis",
            "success_criterion",
            "metrics",
            "outcome",
            "passed",
            "message",
            "duration_seconds",
            "evidence_url",
            "run_reference",
            "reviewer",
            "submitted_by",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):
        passed = attrs.pop("passed", None)
        outcome = attrs.get("outcome")
        if outcome is None and passed is None:
            raise serializers.ValidationError({"passed": "Say whether it passed (true/false)."})
        if outcome is None:
            attrs["outcome"] = EvaluationOutcome.PASSED if passed else EvaluationOutcome.FAILED
        elif passed is not None and passed != (outcome == EvaluationOutcome.PASSED):
            raise serializers.ValidationError(
                {"passed": f"passed={str(passed).lower()} contradicts outcome {outcome!r}."}
            )
        if not attrs.get("name"):
            attrs["name"] = EvaluationKind(attrs["kind"]).label
        return super().validate(attrs)

    def build(self, attrs):
        instance = super().build(attrs)
        instance.model_version = self.context["model_version"]
        instance.submitted_by = self.context["request"].user
        return instance


class RequiredEvaluationSerializer(FullCleanSerializer):
    class Meta:
        model = RequiredEvaluation
        validators = []  # full_clean checks the model's constraints
        fields = ["id", "risk_tier", "kind"]
        read_only_fields = ["id"]


class ReminderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reminder
        fields = ["id", "risk", "acceptance", "kind", "due_date", "recipient_email", "sent_at"]
        read_only_fields = fields


class ThresholdClassificationSerializer(serializers.Serializer):
    """What an observed value means against a threshold."""

    threshold = serializers.IntegerField()
    metric = serializers.CharField()
    value = serializers.FloatField()
    classification = serializers.ChoiceField(choices=["benign", "questionable", "critical"])
    comparator = serializers.CharField(help_text="The comparator's label, e.g. 'above'.")


class HeatmapCellSerializer(serializers.Serializer):
    likelihood = serializers.IntegerField()
    impact = serializers.IntegerField()
    level = serializers.CharField()
    count = serializers.IntegerField()


class RiskHeatmapSerializer(serializers.Serializer):
    """Counts of risks per cell of one matrix, by inherent and by residual score."""

    matrix = RiskMatrixSerializer()
    total = serializers.IntegerField()
    inherent = HeatmapCellSerializer(many=True)
    residual = HeatmapCellSerializer(many=True)
