from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from registry.api import public_cards as cards
from registry.api.views import (
    DeploymentViewSet,
    EnvironmentViewSet,
    FeatureVersionViewSet,
    FeatureViewSet,
    ImpactView,
    MLModelViewSet,
    ModelVersionViewSet,
)
from registry.mlflow_webhook import MLflowWebhookView


class OptionalSlashRouter(SimpleRouter):
    """``/api/models/1/live`` and ``/api/models/1/live/`` both answer (APPEND_SLASH is off)."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("models", MLModelViewSet, basename="mlmodel")
router.register("model-versions", ModelVersionViewSet, basename="modelversion")
router.register("features", FeatureViewSet, basename="feature")
router.register("feature-versions", FeatureVersionViewSet, basename="featureversion")
router.register("environments", EnvironmentViewSet, basename="environment")
router.register("deployments", DeploymentViewSet, basename="deployment")

urlpatterns = [
    re_path(r"^impact/?$", ImpactView.as_view(), name="impact"),
    re_path(r"^mlflow/webhook/?$", MLflowWebhookView.as_view(), name="mlflow-webhook"),
    re_path(
        r"^models/(?P<name>[-\w]+)/public-card/?$",
        cards.PublicCardView.as_view(),
        name="model-public-card",
    ),
    re_path(
        r"^models/(?P<name>[-\w]+)/public-card/approve/?$",
        cards.PublicCardApproveView.as_view(),
        name="model-public-card-approve",
    ),
    re_path(
        r"^models/(?P<name>[-\w]+)/public-card/withdraw/?$",
        cards.PublicCardWithdrawView.as_view(),
        name="model-public-card-withdraw",
    ),
    path("", include("registry.api.dossier_urls")),
    path("", include("registry.api.card_urls")),
    *router.urls,
    path("", include("registry.gate.urls")),
]
