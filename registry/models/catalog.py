"""The inventory the board governs: models, their versions, features, environments
and deployments. A version's training data is never stored here: it is derived
from lineage (the dataset versions upstream of its training run) when asked."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from registry.choices import DefinitionKind, DeploymentState, ModelVersionStatus, RiskTier

__all__ = [
    "Deployment",
    "Environment",
    "Feature",
    "FeatureVersion",
    "ImpactNotification",
    "MLModel",
    "ModelVersion",
]


class MLModel(models.Model):
    """A model the board governs, owned by one team, with its model card as named fields."""

    CARD_FIELDS = (
        "intended_use",
        "out_of_scope_uses",
        "known_limitations",
        "capabilities",
        "ethical_considerations",
        "human_oversight",
        "contact",
    )
    # What a regulator's dossier (Annex IV points 1, 7, 8 and 9) and a serious-incident
    # report (Art. 73) name; not asked by the gate's card check: a model in development
    # has no declaration of conformity yet.
    REGULATORY_FIELDS = (
        "provider",
        "standards_applied",
        "conformity_declaration_ref",
        "eu_database_id",
        "post_market_monitoring_plan",
    )

    name = models.SlugField(max_length=100, unique=True)
    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="ml_models")
    risk_tier = models.CharField(max_length=16, choices=RiskTier.choices)
    description = models.TextField()
    intended_use = models.TextField(blank=True)
    out_of_scope_uses = models.TextField(blank=True)
    known_limitations = models.TextField(blank=True)
    capabilities = models.TextField(blank=True)
    ethical_considerations = models.TextField(blank=True)
    human_oversight = models.TextField("human oversight measures", blank=True)
    contact = models.CharField(max_length=200, blank=True)
    provider = models.CharField(
        max_length=200,
        blank=True,
        help_text="The provider placing the system on the market or into service (Art. 3(3)).",
    )
    standards_applied = models.TextField(
        "harmonised standards applied",
        blank=True,
        help_text="Harmonised standards or other specifications applied, one per line "
        "(Annex IV point 7).",
    )
    conformity_declaration_ref = models.CharField(
        "EU declaration of conformity reference",
        max_length=300,
        blank=True,
        help_text="Reference (document id or URL) of the EU declaration of conformity "
        "(Art. 47, Annex IV point 8).",
    )
    eu_database_id = models.CharField(
        "EU database registration id",
        max_length=100,
        blank=True,
        help_text="The registration id in the EU database for high-risk systems (Art. 71).",
    )
    post_market_monitoring_plan = models.TextField(
        blank=True,
        help_text="The post-market monitoring plan (Art. 72, Annex IV point 9).",
    )
    card_metadata = models.JSONField(
        default=dict,
        blank=True,
        help_text="The model card's metadata with no field of its own (license, datasets, "
        "metrics, tags, language...), as a Hugging Face card's YAML header holds it "
        "(registry.model_cards imports and exports it).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "ML model"
        permissions = [("approve_mlmodel", "Can approve deployments of this ML model")]

    def __str__(self):
        return self.name

    @property
    def card_missing(self) -> list[str]:
        return [name for name in self.CARD_FIELDS if not str(getattr(self, name)).strip()]

    @property
    def card_complete(self) -> bool:
        return not self.card_missing


class ModelVersion(models.Model):
    """One trained artifact of a model: what it is (URI + digest), which code made it,
    and which lineage run trained it. Its training data is read from lineage."""

    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(
        max_length=100, help_text="The label pipelines use, e.g. '7' or '2024-05-01.1'."
    )
    artifact_uri = models.CharField(max_length=1000)
    artifact_digest = models.CharField(
        max_length=200, help_text="Content digest of the artifact, e.g. 'sha256:…'."
    )
    code_repository = models.CharField(max_length=500, blank=True)
    code_commit = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=ModelVersionStatus.choices, default=ModelVersionStatus.REGISTERED
    )
    description = models.TextField(blank=True)
    training_run = models.ForeignKey(
        "lineage.Run",
        on_delete=models.PROTECT,
        null=True,
        related_name="trained_model_versions",
        help_text="The lineage run that produced the artifact; training data is read from it.",
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="registered_model_versions",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model__name", "-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "version"],
                name="%(app_label)s_%(class)s_unique_model_version",
                violation_error_message="This model already has a version with this label.",
            )
        ]
        indexes = [models.Index(fields=["status"], name="registry_mv_status")]

    def __str__(self):
        return f"{self.model.name}@{self.version}" if self.model_id else self.version

    def clean(self):
        if self.artifact_digest and ":" not in self.artifact_digest:
            raise ValidationError(
                {"artifact_digest": "Give the algorithm and the digest, e.g. 'sha256:<hex>'."}
            )


class Feature(models.Model):
    """A named feature a team maintains; its definitions are versioned."""

    name = models.SlugField(max_length=200, unique=True)
    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="features")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class FeatureVersion(models.Model):
    """One definition of a feature (an expression or a code reference) and the
    dataset versions it was computed from."""

    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=100)
    definition_kind = models.CharField(max_length=16, choices=DefinitionKind.choices)
    definition = models.TextField(
        help_text="The expression, or 'repository@commit:path#symbol' for a code reference."
    )
    source_dataset_versions = models.ManyToManyField(
        "lineage.DatasetVersion", blank=True, related_name="feature_versions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["feature__name", "-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["feature", "version"],
                name="%(app_label)s_%(class)s_unique_feature_version",
                violation_error_message="This feature already has a version with this label.",
            )
        ]

    def __str__(self):
        return f"{self.feature.name}@{self.version}" if self.feature_id else self.version

    def clean(self):
        if not self.definition.strip():
            raise ValidationError({"definition": "A feature version needs its definition."})
        if self.definition_kind == DefinitionKind.CODE and "@" not in self.definition:
            raise ValidationError(
                {"definition": "A code reference names its commit: 'repository@commit:path'."}
            )


class Environment(models.Model):
    """Where versions serve. ``order`` ranks them (development < staging < production);
    a protected environment only takes deployments that passed the gate."""

    name = models.SlugField(max_length=50, unique=True)
    order = models.PositiveIntegerField(unique=True, validators=[MinValueValidator(1)])
    protected = models.BooleanField(default=False)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["order"]

    def __str__(self):
        return self.name

    def clean(self):
        # Unprotecting production to deploy past the gate (and protecting it again)
        # would be a way around the gate from the admin or the API: once versions
        # have served in a protected environment, it stays protected.
        if self.pk and not self.protected:
            was = Environment.objects.filter(pk=self.pk).values_list("protected", flat=True)
            if was.first() and self.deployments.exists():
                raise ValidationError(
                    {
                        "protected": f"{self.name} is protected and versions have served "
                        "there through the gate; it stays protected."
                    }
                )


class Deployment(models.Model):
    """A model version serving in an environment, and what it replaced.

    At most one deployment per (model, environment) is live; ``model`` repeats
    ``model_version.model`` so the database can guard that. A rollback is a
    deployment of an earlier version whose ``rollback_of`` names the deployment
    it took down. A deployment to a protected environment is linked from the
    gate's ``DeploymentRequest.deployment`` (``deployment.deployment_request``).
    """

    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="deployments")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="deployments"
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="deployments"
    )
    state = models.CharField(
        max_length=16, choices=DeploymentState.choices, default=DeploymentState.LIVE
    )
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    deployed_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    replaced = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        help_text="The deployment that was live before this one.",
    )
    rollback_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rolled_back_by",
        help_text="For a rollback: the deployment it took down.",
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-deployed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "environment"],
                condition=Q(state=DeploymentState.LIVE),
                name="%(app_label)s_%(class)s_unique_live",
                violation_error_message="This model already has a live deployment here.",
            )
        ]
        indexes = [
            models.Index(fields=["environment", "state"], name="registry_dep_env_state"),
        ]

    def __str__(self):
        return f"{self.model_version} in {self.environment} ({self.state})"

    @property
    def is_rollback(self) -> bool:
        return self.rollback_of_id is not None

    @property
    def deployment_request_id(self) -> int | None:
        """The id of the gate's request that shipped this deployment, if any."""
        request = getattr(self, "deployment_request", None)
        return request.pk if request is not None else None

    def clean(self):
        if self.model_version_id and self.model_id and self.model_version.model_id != self.model_id:
            raise ValidationError({"model_version": "This version belongs to another model."})


class ImpactNotification(models.Model):
    """That a team was told a dataset version its models used turned quarantined or
    revoked. One row per (dataset version, status, team) makes the task idempotent."""

    dataset_version = models.ForeignKey(
        "lineage.DatasetVersion", on_delete=models.PROTECT, related_name="impact_notifications"
    )
    status = models.CharField(max_length=16)
    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="+")
    model_versions = models.JSONField(default=list)
    deployments = models.JSONField(default=list)
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset_version", "status", "team"],
                name="%(app_label)s_%(class)s_unique_notice",
                violation_error_message="This team was already notified of this change.",
            )
        ]

    def __str__(self):
        return f"{self.team} told of {self.dataset_version_id} {self.status}"
