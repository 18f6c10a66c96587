from django.urls import re_path
from rest_framework.routers import SimpleRouter

from playbooks.api import views


class OptionalSlashRouter(SimpleRouter):
    """``/api/incidents/1/acknowledge`` and ``.../acknowledge/`` both answer."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("signals", views.SignalViewSet, basename="signal")
router.register("playbooks", views.PlaybookViewSet, basename="playbook")
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("investigation-tasks", views.InvestigationTaskViewSet, basename="investigationtask")
router.register("reviews", views.ReviewViewSet, basename="review")
router.register("drills", views.DrillViewSet, basename="drill")
router.register("action-items", views.ActionItemViewSet, basename="actionitem")

urlpatterns = [
    re_path(
        r"^signals/alertmanager/?$",
        views.AlertmanagerWebhookView.as_view(),
        name="signal-alertmanager",
    ),
    *router.urls,
]
