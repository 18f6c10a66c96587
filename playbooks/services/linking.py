"""From a signal's names (model, version, environment, deployment) to records, as
far as the sender may see them. A model the sender cannot see is treated exactly
like one that does not exist, so the answer leaks nothing."""

from dataclasses import dataclass, field

from django.db.models import Q

from accounts.permissions import visible
from registry import services as registry_services
from registry.choices import DeploymentState
from registry.models import Deployment, Environment, MLModel, ModelVersion
from risk.models import Threshold


@dataclass
class Links:
    model: MLModel | None = None
    model_version: ModelVersion | None = None
    environment: Environment | None = None
    deployment: Deployment | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def linked(self) -> bool:
        return self.model is not None


def resolve(user, *, model_name="", version_name="", environment_name="", deployment_id=None):
    """Links for a signal. The deployment (by id, or the live one of the model in the
    environment) fills in the version when the signal names none."""
    models = visible(MLModel.objects.select_related("team"), user)
    links = Links()
    if deployment_id is not None:
        links.deployment = (
            Deployment.objects.select_related("model__team", "model_version", "environment")
            .filter(pk=deployment_id, model__in=models)
            .first()
        )
        if links.deployment is not None:
            links.model = links.deployment.model
            links.environment = links.deployment.environment
            links.model_version = links.deployment.model_version
    if links.model is None and model_name:
        links.model = models.filter(name=model_name).first()
    if links.model is None:
        return links
    if environment_name and links.environment is None:
        links.environment = Environment.objects.filter(name=environment_name).first()
    if links.deployment is None and links.environment is not None:
        links.deployment = (
            Deployment.objects.select_related("model_version")
            .filter(model=links.model, environment=links.environment, state=DeploymentState.LIVE)
            .first()
        )
    if version_name:
        links.model_version = ModelVersion.objects.filter(
            model=links.model, version=version_name
        ).first()
        if links.model_version is None:
            links.notes.append(f"version {version_name!r} is not registered")
    elif links.deployment is not None:
        links.model_version = links.deployment.model_version
    return links


def thresholds_for(links: Links, metric: str) -> list:
    """The thresholds watching ``metric`` on the signal's deployment or model version."""
    subject = Q(pk__in=[])
    if links.deployment is not None:
        subject |= Q(deployment=links.deployment)
    if links.model_version is not None:
        subject |= Q(model_version=links.model_version)
    return list(
        Threshold.objects.filter(subject, metric=metric).select_related("risk").order_by("pk")
    )


def incident_links(links: Links, threshold=None) -> dict:
    """FKs and M2Ms an incident opened from these links starts with."""
    out = {"model_version": links.model_version, "deployment": links.deployment}
    if threshold is not None:
        out["risks"] = [threshold.risk]
    if links.model_version is not None:
        out["dataset_versions"] = registry_services.training_data(links.model_version)
    return out
