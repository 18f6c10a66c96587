from django.urls import path
from rest_framework.routers import SimpleRouter

from risk.api.evaluations import EvaluationViewSet, ModelVersionEvaluationsView
from risk.api.redteam import RedTeamExerciseViewSet, RedTeamFindingViewSet
from risk.api.views import (
    ControlViewSet,
    ReminderViewSet,
    RequiredEvaluationViewSet,
    RiskAcceptanceViewSet,
    RiskHeatmapView,
    RiskMatrixViewSet,
    RiskViewSet,
    ThresholdViewSet,
)

router = SimpleRouter()
router.register("risk-matrices", RiskMatrixViewSet, basename="riskmatrix")
router.register("risks", RiskViewSet, basename="risk")
router.register("risk-acceptances", RiskAcceptanceViewSet, basename="riskacceptance")
router.register("controls", ControlViewSet, basename="control")
router.register("thresholds", ThresholdViewSet, basename="threshold")
router.register("evaluations", EvaluationViewSet, basename="evaluation")
router.register("required-evaluations", RequiredEvaluationViewSet, basename="requiredevaluation")
router.register("risk-reminders", ReminderViewSet, basename="riskreminder")
router.register("redteam-exercises", RedTeamExerciseViewSet, basename="redteamexercise")
router.register("redteam-findings", RedTeamFindingViewSet, basename="redteamfinding")

# No trailing slash on either: the registry's router owns "model-versions/<pk>/"
# and "risks/<pk>/" is ours; neither pattern matches these.
urlpatterns = [
    path("risks/heatmap", RiskHeatmapView.as_view(), name="risk-heatmap"),
    path(
        "model-versions/<int:pk>/evaluations",
        ModelVersionEvaluationsView.as_view(),
        name="modelversion-evaluations",
    ),
    *router.urls,
]
