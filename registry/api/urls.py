from django.urls import include, path
from rest_framework.routers import SimpleRouter

from registry.api.views import (
    DeploymentViewSet,
    EnvironmentViewSet,
    FeatureVersionViewSet,
    FeatureViewSet,
    ImpactView,
    MLModelViewSet,
    ModelVersionViewSet,
)


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
    path("impact", ImpactView.as_view(), name="impact"),
    path("impact/", ImpactView.as_view()),
    *router.urls,
    path("", include("registry.gate.urls")),
]
