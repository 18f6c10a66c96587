from django.urls import re_path
from rest_framework.routers import SimpleRouter

from playbooks.api import incidents, reviews, signals


class OptionalSlashRouter(SimpleRouter):
    """``/api/incidents/1/acknowledge`` and ``.../acknowledge/`` both answer."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("signals", signals.SignalViewSet, basename="signal")
router.register("playbooks", incidents.PlaybookViewSet, basename="playbook")
router.register("incidents", incidents.IncidentViewSet, basename="incident")
router.register(
    "investigation-tasks", signals.InvestigationTaskViewSet, basename="investigationtask"
)
router.register("reviews", reviews.ReviewViewSet, basename="review")
router.register("drills", reviews.DrillViewSet, basename="drill")
router.register("action-items", reviews.ActionItemViewSet, basename="actionitem")

urlpatterns = [
    re_path(
        r"^signals/alertmanager/?$",
        signals.AlertmanagerWebhookView.as_view(),
        name="signal-alertmanager",
    ),
    *router.urls,
]
