"""The registry's answers to the lineage picture (``lineage.ui.impact``): which model
versions a dataset version feeds and which of them serve now, and which model
versions a run trained. Scoped to the user through ``accounts.permissions``."""

from collections import defaultdict

from django.urls import reverse

from accounts.permissions import visible
from lineage.ui.impact import Impact, ModelRef, impact_provider, run_models_provider
from registry import services
from registry.choices import DeploymentState
from registry.models import Deployment, MLModel, ModelVersion


def _ref(version, live_in=()) -> ModelRef:
    name = version.model.name
    return ModelRef(
        node_id=f"model:{name}:{version.version}",
        label=f"{name}@{version.version}",
        status=version.status,
        url=reverse("ui-model-lineage", args=[name, version.version]),
        live_in=tuple(live_in),
    )


@impact_provider
def dataset_version_impact(dataset_version, user) -> Impact:
    found = services.impact(dataset_version, user=user)
    live = defaultdict(list)
    for deployment in found.deployments:
        live[deployment.model_version_id].append(deployment.environment.name)
    return Impact(
        model_versions=[_ref(v, live.get(v.pk, ())) for v in found.model_versions],
        live=[
            (f"{d.model.name}@{d.model_version.version}", d.environment.name)
            for d in found.deployments
        ],
        features=[f"{fv.feature.name}@{fv.version}" for fv in found.feature_versions],
    )


@run_models_provider
def models_of_runs(run_ids, user) -> dict[int, list[ModelRef]]:
    versions = list(
        ModelVersion.objects.filter(
            training_run_id__in=list(run_ids),
            model__in=visible(MLModel.objects.all(), user).values("pk"),
        )
        .select_related("model")
        .order_by("model__name", "version")
    )
    live = defaultdict(list)
    for version_id, environment in Deployment.objects.filter(
        model_version__in=[v.pk for v in versions], state=DeploymentState.LIVE
    ).values_list("model_version_id", "environment__name"):
        live[version_id].append(environment)
    answer = defaultdict(list)
    for version in versions:
        answer[version.training_run_id].append(_ref(version, live.get(version.pk, ())))
    return dict(answer)
