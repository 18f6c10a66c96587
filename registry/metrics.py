"""The catalog's gauges on /metrics, computed at scrape time."""

from django.db.models import Count

from config.metrics import register_gauge
from registry.choices import DeploymentState, RiskTier
from registry.models import Deployment, Environment, MLModel


def models_by_tier() -> dict:
    counts = dict(MLModel.objects.values_list("risk_tier").annotate(n=Count("pk")))
    return {(tier,): counts.get(tier, 0) for tier in RiskTier.values}


def live_by_environment() -> dict:
    counts = dict(
        Deployment.objects.filter(state=DeploymentState.LIVE)
        .values_list("environment__name")
        .annotate(n=Count("pk"))
    )
    return {
        (name,): counts.get(name, 0) for name in Environment.objects.values_list("name", flat=True)
    }


register_gauge("govreg_models_total", "ML models by risk tier.", ("risk_tier",), models_by_tier)
register_gauge(
    "govreg_live_deployments",
    "Live deployments by environment.",
    ("environment",),
    live_by_environment,
)
