"""Serializers of the catalog: models, versions, features, environments, deployments.

Validation lives in the models (``full_clean``); the serializers translate
names pipelines know (a model's name, a run's UUID, an environment's name)
into records the caller may see, so another team's record reads as absent.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import TeamField, VisibleSlugRelatedField
from accounts.permissions import visible
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


def _django_errors(exc: DjangoValidationError, default_field: str):
    """A Django ValidationError as DRF's, keeping the field names."""
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError({default_field: exc.messages})


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
        return dataset_version_summary(dv)


def dataset_version_summary(dv: DatasetVersion) -> dict:
    return {
        "id": dv.pk,
        "namespace": dv.dataset.namespace.name,
        "name": dv.dataset.name,
        "version": dv.version,
        "content_hash": dv.content_hash,
        "status": dv.status,
    }


def run_summary(run) -> dict:
    return {
        "id": run.pk,
        "run_id": str(run.run_id),
        "job": {"namespace": run.job.namespace.name, "name": run.job.name},
        "state": run.state,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
    }


# --- models ---------------------------------------------------------------


class MLModelSerializer(serializers.ModelSerializer):
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
            "card_complete",
            "card_missing",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate(self, attrs):
        instance = MLModel(**{**self._current(), **attrs})
        try:
            instance.full_clean(
                exclude=["team"] if "team" not in attrs else None, validate_unique=False
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc, "name")
        return attrs

    def _current(self) -> dict:
        if self.instance is None:
            return {}
        return {f.name: getattr(self.instance, f.name) for f in MLModel._meta.concrete_fields}


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


class ModelVersionSerializer(serializers.ModelSerializer):
    model = VisibleSlugRelatedField(slug_field="name", queryset=MLModel.objects.all())
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

    def get_training_job(self, version) -> dict | None:
        run = version.training_run
        if run is None:
            return None
        return {"namespace": run.job.namespace.name, "name": run.job.name}

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

    class Meta(ModelVersionSerializer.Meta):
        fields = [
            *ModelVersionSerializer.Meta.fields,
            "training_data",
            "training_data_complete",
            "training_data_problems",
        ]

    def _verdict(self, version):
        cache = self.context.setdefault("_verdicts", {})
        if version.pk not in cache:
            cache[version.pk] = services.training_data_verdict(version)
        return cache[version.pk]

    def get_training_data(self, version) -> list[dict]:
        return [dataset_version_summary(dv) for dv in self._verdict(version).dataset_versions]

    def get_training_data_complete(self, version) -> bool:
        return self._verdict(version).complete

    def get_training_data_problems(self, version) -> list[str]:
        return self._verdict(version).problems


class VersionStatusSerializer(serializers.Serializer):
    status = serializers.CharField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")


# --- features -------------------------------------------------------------


class FeatureSerializer(serializers.ModelSerializer):
    team = TeamField()

    class Meta:
        model = Feature
        fields = ["id", "name", "team", "description", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate(self, attrs):
        current = {}
        if self.instance is not None:
            current = {
                f.name: getattr(self.instance, f.name) for f in Feature._meta.concrete_fields
            }
        try:
            Feature(**{**current, **attrs}).full_clean(
                exclude=["team"] if "team" not in attrs else None, validate_unique=False
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc, "name")
        return attrs


class FeatureVersionSerializer(serializers.ModelSerializer):
    feature = VisibleSlugRelatedField(slug_field="name", queryset=Feature.objects.all())
    source_dataset_versions = serializers.ListField(
        child=DatasetVersionRefField(), required=False, write_only=True
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True)

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

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["source_dataset_versions"] = [
            dataset_version_summary(dv) for dv in instance.source_dataset_versions.all()
        ]
        return data

    def validate(self, attrs):
        fields = {k: v for k, v in attrs.items() if k != "source_dataset_versions"}
        try:
            FeatureVersion(**fields).full_clean()
        except DjangoValidationError as exc:
            raise _django_errors(exc, "definition")
        return attrs


# --- environments and deployments -----------------------------------------


class EnvironmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = ["id", "name", "order", "protected", "description"]

    def validate(self, attrs):
        current = {}
        if self.instance is not None:
            current = {
                f.name: getattr(self.instance, f.name) for f in Environment._meta.concrete_fields
            }
        try:
            Environment(**{**current, **attrs}).full_clean(validate_unique=False)
        except DjangoValidationError as exc:
            raise _django_errors(exc, "name")
        return attrs


class DeploymentSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    model_version = VisibleModelVersionField(queryset=ModelVersion.objects.select_related("model"))
    version = serializers.CharField(source="model_version.version", read_only=True)
    environment = serializers.SlugRelatedField(
        slug_field="name", queryset=Environment.objects.all()
    )
    deployed_by = serializers.CharField(source="deployed_by.username", read_only=True, default=None)
    is_rollback = serializers.BooleanField(read_only=True)
    deployment_request = serializers.IntegerField(
        source="deployment_request.pk", read_only=True, default=None
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


# --- shapes of hand-built answers (for the OpenAPI schema) -----------------


class DatasetVersionSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    version = serializers.CharField()
    content_hash = serializers.CharField(allow_null=True)
    status = serializers.CharField()


class UpstreamDatasetVersionSerializer(DatasetVersionSummarySerializer):
    producing_run = serializers.UUIDField(allow_null=True)


class JobRefSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    name = serializers.CharField()


class RunSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    run_id = serializers.UUIDField()
    job = JobRefSerializer()
    state = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)


class JobSummarySerializer(JobRefSerializer):
    id = serializers.IntegerField()


class VersionLineageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField()
    version = serializers.CharField()
    training_run = RunSummarySerializer(allow_null=True)
    training_data_complete = serializers.BooleanField()
    problems = serializers.ListField(child=serializers.CharField())
    dataset_versions = UpstreamDatasetVersionSerializer(many=True)
    runs = RunSummarySerializer(many=True)
    jobs = JobSummarySerializer(many=True)


class EnvironmentLiveSerializer(serializers.Serializer):
    environment = serializers.CharField()
    protected = serializers.BooleanField()
    deployment = LiveDeploymentSerializer(allow_null=True)


class ModelLiveSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField()
    environments = EnvironmentLiveSerializer(many=True)


class ImpactVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField()
    team = serializers.CharField()
    version = serializers.CharField()
    status = serializers.CharField()
    training_run = serializers.UUIDField()


class ImpactDeploymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField()
    version = serializers.CharField()
    model_version = serializers.IntegerField()
    environment = serializers.CharField()
    state = serializers.CharField()
    deployed_at = serializers.DateTimeField()


class ImpactFeatureVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    feature = serializers.CharField()
    version = serializers.CharField()


class ImpactSerializer(serializers.Serializer):
    dataset_version = DatasetVersionSummarySerializer()
    model_versions = ImpactVersionSerializer(many=True)
    deployments = ImpactDeploymentSerializer(many=True)
    feature_versions = ImpactFeatureVersionSerializer(many=True)
