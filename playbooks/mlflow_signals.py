"""An MLflow alias that moved to a version govreg has not approved for its environment
(``registry.mlflow_sync.ungoverned_alias``) becomes a critical signal of kind
``ungoverned-deployment`` from source ``mlflow``, triaged by the one rule (its
``severity`` label is critical), so it opens or joins the incident of the model in that
environment and blocks the gate for the model like any critical incident."""

from django.dispatch import receiver

from playbooks.choices import SignalKind, SignalSource
from playbooks.services import linking, triage
from playbooks.services.common import Trail
from registry.choices import DeploymentState
from registry.mlflow_sync import ungoverned_alias
from registry.models import Deployment

METRIC = "ungoverned-deployment"


@receiver(ungoverned_alias, dispatch_uid="playbooks-mlflow-ungoverned-deployment")
def raise_ungoverned_deployment(
    sender, alias, model_version, environment, previous_version, now, **kwargs
):
    """One signal per alias move (the sync sends this once per move, in its transaction)."""
    model = model_version.model
    live = (
        Deployment.objects.select_related("model_version")
        .filter(model=model, environment=environment, state=DeploymentState.LIVE)
        .first()
    )
    mlflow_name = alias.model_link.mlflow_name
    served = (
        f"govreg has version {live.model_version.version} live there"
        if live
        else "nothing of it is live there in govreg"
    )
    summary = (
        f"MLflow alias {alias.alias!r} of {mlflow_name} moved to version "
        f"{model_version.version}, which govreg has not approved for {environment.name}; "
        f"{served}."
    )
    data = linking.SignalInput(
        source=SignalSource.MLFLOW,
        kind=SignalKind.UNGOVERNED_DEPLOYMENT,
        metric=METRIC,
        labels={
            "alertname": "UngovernedDeployment",
            "severity": "critical",
            "model": model.name,
            "version": model_version.version,
            "environment": environment.name,
            "mlflow_model": mlflow_name,
            "mlflow_alias": alias.alias,
        },
        annotations={"summary": summary, "previous_version": previous_version or "none"},
        sender="mlflow sync",
        observed_at=now,
        payload={
            "mlflow_model": mlflow_name,
            "alias": alias.alias,
            "version": model_version.version,
            "previous_version": previous_version,
            "environment": environment.name,
        },
        model_name=model.name,
        version_name=model_version.version,
        environment_name=environment.name,
    )
    links = linking.Links(
        model=model, model_version=model_version, environment=environment, deployment=live
    )
    trail = Trail()
    triage.raise_signal(data, links, now=now, trail=trail)
    trail.write()
