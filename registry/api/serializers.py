"""Serializers of the catalog: models, versions, features, environments, deployments.

Validation lives in the models (``full_clean``); the serializers translate
names pipelines know (a model's name, a run's UUID, an environment's name)
into records the caller may see, so another team's record reads as absent.
"""

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.encoding import smart_str
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import TeamField, VisibleSlugRelatedField
from accounts.permissions import may, remember_held, visible, with_held
from config.serializers import FieldsBuiltOnce, FullCleanSerializer
from config.statements import Statement
from lineage.models import DatasetVersion
from registry import services
from registry.models import (
    Deployment,
    Environment,
    Feature,
    FeatureVersion,
    MLModel,
    ModelVersion,
)
from registry.personal_data import personal_data_among


class _VisibleThroughParent:
    """A related field whose choices are the rows under parents the user may see
    (versions of visible models, versions of visible features)."""

    parent_path = "model"
    parent_model = MLModel

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            return queryset.none()
        allowed = visible(self.parent_model._default_manager.all(), request.user)
        return queryset.filter(**{f"{self.parent_path}__in": allowed.values("pk")})


class VisibleModelVersionField(_VisibleThroughParent, serializers.PrimaryKeyRelatedField):
    pass


MODEL_BY_NAME = Statement(
    lambda name, user: with_held(MLModel.objects.filter(name=name), user),
    key=lambda: ContentType.objects.get_for_model(MLModel).pk,  # bound in the SQL
    name=str,
    user=int,
)


class VisibleModelField(VisibleSlugRelatedField):
    """A model by name among those the caller may see (``VisibleSlugRelatedField``),
    answered as ``may(user, "view", model)`` of the model read, with what the caller
    holds on it (``with_held``), by a statement compiled once (``MODEL_BY_NAME``): every
    registration names its model, and the change right the view asks next is answered
    from the same permission read (one per record and request), not from a second
    query. Another team's model reads as absent."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="name", queryset=MLModel.objects.all(), **kwargs)

    def to_internal_value(self, data):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        plain = isinstance(data, str) and "\x00" not in data
        if not plain or not getattr(user, "is_authenticated", False):
            return super().to_internal_value(data)
        found = MODEL_BY_NAME.first(name=data, user=user.pk)
        if found is not None:
            remember_held(user, found)
        if found is None or not may(user, "view", found):
            self.fail("does_not_exist", slug_name=self.slug_field, value=smart_str(data))
        return found


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "uuid"},
            {
                "type": "object",
                "properties": {
                    "namespace": {"type": "string"},
                    "job": {"type": "string"},
                    "run_id": {"type": "string", "format": "uuid"},
                },
                "required": ["namespace", "job", "run_id"],
            },
        ],
        "description": "The lineage run's UUID (OpenLineage runId); read back as the UUID.",
    }
)
class TrainingRunField(serializers.Field):
    """A lineage run by its UUID, or ``{"namespace", "job", "run_id"}`` as OpenLineage names it."""

    default_error_messages = {"invalid": "Give the run id (UUID) or {{namespace, job, run_id}}."}

    def to_internal_value(self, data):
        if not isinstance(data, str | dict):
            self.fail("invalid")
        try:
            return services.resolve_training_run(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict.get("training_run", exc.messages))

    def to_representation(self, run):
        return str(run.run_id)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer"},
            {
                "type": "object",
                "properties": {
                    "namespace": {"type": "string"},
                    "name": {"type": "string"},
                    "version": {"type": "string"},
                },
                "required": ["namespace", "name", "version"],
            },
        ]
    }
)
class DatasetVersionRefField(serializers.Field):
    """A dataset version by id, or by ``{"namespace", "name", "version"}``."""

    def to_internal_value(self, data):
        queryset = DatasetVersion.objects.select_related("dataset__namespace")
        if isinstance(data, int) or (isinstance(data, str) and data.isdigit()):
            found = queryset.filter(pk=int(data)).first()
        elif isinstance(data, dict) and {"namespace", "name", "version"} <= set(data):
            found = queryset.filter(
                dataset__namespace__name=data["namespace"],
                dataset__name=data["name"],
                version=data["version"],
            ).first()
        else:
            raise serializers.ValidationError(
                "Give a dataset version id or {namespace, name, version}."
            )
        if found is None:
            raise serializers.ValidationError(f"Dataset version {data!r} does not exist.")
        return found

    def to_representation(self, dv):
        return DatasetVersionSummarySerializer(dv).data


# --- lineage records as the catalog shows them ---------------------------


class DatasetVersionSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    namespace = serializers.CharField(source="dataset.namespace.name")
    name = serializers.CharField(source="dataset.name")
    version = serializers.CharField()
    content_hash = serializers.CharField(allow_null=True)
    status = serializers.CharField()


class UpstreamDatasetVersionSerializer(DatasetVersionSummarySerializer):
    producing_run = serializers.UUIDField(source="producing_run.run_id", allow_null=True)


class JobRefSerializer(serializers.Serializer):
    namespace = serializers.CharField(source="namespace.name")
    name = serializers.CharField()


class RunSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    run_id = serializers.UUIDField()
    job = JobRefSerializer()
    state = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)


class JobSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    namespace = serializers.CharField(source="namespace.name")
    name = serializers.CharField()


# --- models ---------------------------------------------------------------


class MLModelSerializer(FullCleanSerializer):
    clean_unique = False  # uniqueness: DRF's validators and the database constraints
    team = TeamField()
    card_complete = serializers.BooleanField(read_only=True)
    card_missing = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = MLModel
        fields = [
            "id",
            "name",
            "team",
            "risk_tier",
            "description",
            *MLModel.CARD_FIELDS,
            *MLModel.REGULATORY_FIELDS,
            "card_complete",
            "card_missing",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class VersionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "version", "status", "artifact_digest", "created_at"]


class LiveDeploymentSerializer(serializers.ModelSerializer):
    environment = serializers.CharField(source="environment.name")
    version = serializers.CharField(source="model_version.version")
    deployed_by = serializers.CharField(source="deployed_by.username", default=None)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "environment",
            "model_version",
            "version",
            "deployed_at",
            "deployed_by",
            "is_rollback",
        ]


class MLModelDetailSerializer(MLModelSerializer):
    """A model with its versions (newest first) and what serves in each environment."""

    versions = VersionBriefSerializer(many=True, read_only=True)
    live = serializers.SerializerMethodField()

    class Meta(MLModelSerializer.Meta):
        fields = [*MLModelSerializer.Meta.fields, "versions", "live"]

    def get_live(self, model) -> list[dict]:
        live = getattr(model, "live_deployments", None)
        if live is None:
            live = services.live_deployments(model)
        return LiveDeploymentSerializer(live, many=True).data


# --- versions -------------------------------------------------------------

IMMUTABLE_VERSION_FIELDS = ("model", "version", "artifact_uri", "artifact_digest", "training_run")


class ModelVersionSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    model = VisibleModelField()
    training_run = TrainingRunField()
    training_job = serializers.SerializerMethodField()
    registered_by = serializers.CharField(source="registered_by.username", read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "model",
            "version",
            "status",
            "artifact_uri",
            "artifact_digest",
            "code_repository",
            "code_commit",
            "description",
            "training_run",
            "training_job",
            "registered_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # A label taken is the database's unique constraint, read by
        # services.register_version as a 400 on "version" (no query before the insert).
        validators = []

    @extend_schema_field(JobRefSerializer(allow_null=True))
    def get_training_job(self, version):
        run = version.training_run
        return None if run is None else JobRefSerializer(run.job).data

    def validate(self, attrs):
        if self.instance is not None:
            changed = [
                name
                for name in IMMUTABLE_VERSION_FIELDS
                if name in attrs and attrs[name] != getattr(self.instance, name)
            ]
            if changed:
                raise serializers.ValidationError(
                    {name: "Fixed at registration; register a new version." for name in changed}
                )
            return attrs
        if "status" in attrs and attrs["status"] != ModelVersion._meta.get_field("status").default:
            raise serializers.ValidationError(
                {"status": "A new version starts as registered; change its status afterwards."}
            )
        # The model's full_clean() runs once, in services.register_version, which the
        # view calls; its errors come back as 400s naming the field.
        return attrs


class ModelVersionDetailSerializer(ModelVersionSerializer):
    """A version with its training data as lineage knows it now."""

    training_data = serializers.SerializerMethodField()
    training_data_complete = serializers.SerializerMethodField()
    training_data_problems = serializers.SerializerMethodField()
    trained_on_personal_data = serializers.SerializerMethodField(
        help_text="Computed: a training dataset version (or its dataset, or a column of it) "
        "is tagged PII.Sensitive."
    )
    personal_data = serializers.SerializerMethodField()

    class Meta(ModelVersionSerializer.Meta):
        fields = [
            *ModelVersionSerializer.Meta.fields,
            "training_data",
            "training_data_complete",
            "training_data_problems",
            "trained_on_personal_data",
            "personal_data",
        ]

    def _verdict(self, version):
        cache = self.context.setdefault("_verdicts", {})
        if version.pk not in cache:
            cache[version.pk] = services.training_data_verdict(version)
        return cache[version.pk]

    @extend_schema_field(DatasetVersionSummarySerializer(many=True))
    def get_training_data(self, version):
        return DatasetVersionSummarySerializer(
            self._verdict(version).dataset_versions, many=True
        ).data

    def get_training_data_complete(self, version) -> bool:
        return self._verdict(version).complete

    def _personal(self, version):
        cache = self.context.setdefault("_personal", {})
        if version.pk not in cache:
            cache[version.pk] = personal_data_among(self._verdict(version).dataset_versions)
        return cache[version.pk]

    def get_trained_on_personal_data(self, version) -> bool:
        return self._personal(version).trained_on_personal_data

    def get_personal_data(self, version) -> list[str]:
        """Why, one sentence per dataset version holding personal data."""
        found = self._personal(version)
        return [found.reasons[dv.pk] for dv in found.dataset_versions]

    def get_training_data_problems(self, version) -> list[str]:
        return self._verdict(version).problems


class VersionStatusSerializer(serializers.Serializer):
    status = serializers.CharField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")


# --- features -------------------------------------------------------------


class FeatureSerializer(FullCleanSerializer):
    clean_unique = False  # uniqueness: DRF's validators and the database constraints
    team = TeamField()

    class Meta:
        model = Feature
        fields = ["id", "name", "team", "description", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


@extend_schema_field(
    {
        "type": "array",
        "description": "Sent: dataset version ids or {namespace, name, version}; answered: "
        "each version's summary (id, namespace, name, version, content_hash, status).",
        "items": {},
    }
)
class SourceDatasetVersionsField(serializers.ListField):
    """Dataset versions in by reference, out as summaries (the OpenAPI document says both)."""

    child = DatasetVersionRefField()

    def to_representation(self, data):
        return DatasetVersionSummarySerializer(data.all(), many=True).data


class FeatureVersionSerializer(FullCleanSerializer):
    feature = VisibleSlugRelatedField(slug_field="name", queryset=Feature.objects.all())
    source_dataset_versions = SourceDatasetVersionsField(required=False)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True
    )

    class Meta:
        model = FeatureVersion
        fields = [
            "id",
            "feature",
            "version",
            "definition_kind",
            "definition",
            "source_dataset_versions",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]


# --- environments and deployments -----------------------------------------


class EnvironmentSerializer(FullCleanSerializer):
    clean_unique = False  # uniqueness: DRF's validators and the database constraints

    class Meta:
        model = Environment
        fields = ["id", "name", "order", "protected", "description"]


class DeploymentSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    model_version = VisibleModelVersionField(queryset=ModelVersion.objects.select_related("model"))
    version = serializers.CharField(source="model_version.version", read_only=True)
    environment = serializers.SlugRelatedField(
        slug_field="name", queryset=Environment.objects.all()
    )
    deployed_by = serializers.CharField(
        source="deployed_by.username", read_only=True, default=None, allow_null=True
    )
    is_rollback = serializers.BooleanField(read_only=True)
    deployment_request = serializers.IntegerField(
        source="deployment_request.pk", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Deployment
        fields = [
            "id",
            "model",
            "model_version",
            "version",
            "environment",
            "state",
            "deployed_by",
            "deployed_at",
            "ended_at",
            "replaced",
            "rollback_of",
            "is_rollback",
            "deployment_request",
            "note",
        ]
        read_only_fields = [
            "id",
            "state",
            "deployed_at",
            "ended_at",
            "replaced",
            "rollback_of",
        ]


class EndDeploymentSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["failed", "rolled_back"])
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RollbackSerializer(serializers.Serializer):
    environment = serializers.SlugRelatedField(
        slug_field="name", queryset=Environment.objects.all()
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    new = serializers.BooleanField(
        required=False,
        default=False,
        help_text="In a protected environment: a new rollback request even if one is open.",
    )


# --- lineage, what is live, impact: the answers and their schema -----------


class VersionLineageSerializer(serializers.Serializer):
    """A version's whole upstream: rendered from the version and its lineage verdict."""

    id = serializers.IntegerField(source="version.pk")
    model = serializers.CharField(source="version.model.name")
    version = serializers.CharField(source="version.version")
    training_run = RunSummarySerializer(source="version.training_run", allow_null=True)
    training_data_complete = serializers.BooleanField(source="verdict.complete")
    problems = serializers.ListField(child=serializers.CharField(), source="verdict.problems")
    dataset_versions = UpstreamDatasetVersionSerializer(
        many=True, source="verdict.dataset_versions"
    )
    runs = RunSummarySerializer(many=True)
    jobs = JobSummarySerializer(many=True)


class EnvironmentLiveSerializer(serializers.Serializer):
    environment = serializers.CharField(source="environment.name")
    protected = serializers.BooleanField(source="environment.protected")
    deployment = LiveDeploymentSerializer(allow_null=True)


class ModelLiveSerializer(serializers.Serializer):
    """What serves now in each environment, rendered from the model and one entry per
    environment (``{"environment", "deployment"}``, the deployment or ``None``)."""

    id = serializers.IntegerField(source="model.pk")
    model = serializers.CharField(source="model.name")
    environments = EnvironmentLiveSerializer(many=True)


class ImpactVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField(source="model.name")
    team = serializers.CharField(source="model.team.name")
    version = serializers.CharField()
    status = serializers.CharField()
    training_run = serializers.UUIDField(source="training_run.run_id")


class ImpactDeploymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField(source="model.name")
    version = serializers.CharField(source="model_version.version")
    model_version = serializers.IntegerField(source="model_version_id")
    environment = serializers.CharField(source="environment.name")
    state = serializers.CharField()
    deployed_at = serializers.DateTimeField()


class ImpactFeatureVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    feature = serializers.CharField(source="feature.name")
    version = serializers.CharField()


class ImpactSerializer(serializers.Serializer):
    """What a dataset version reaches, rendered from ``services.impact``'s answer."""

    dataset_version = DatasetVersionSummarySerializer()
    model_versions = ImpactVersionSerializer(many=True)
    deployments = ImpactDeploymentSerializer(many=True)
    feature_versions = ImpactFeatureVersionSerializer(many=True)
