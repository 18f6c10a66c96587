from django.urls import re_path
from rest_framework.routers import SimpleRouter

from playbooks.api import feedback, incidents, intakes, reviews, signals


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
router.register("feedback", feedback.FeedbackViewSet, basename="feedbackreport")

urlpatterns = [
    re_path(
        r"^signals/alertmanager/?$",
        signals.AlertmanagerWebhookView.as_view(),
        name="signal-alertmanager",
    ),
    re_path(r"^signals/grafana/?$", intakes.GrafanaWebhookView.as_view(), name="signal-grafana"),
    re_path(
        r"^signals/webhook/(?P<source>[-\w]+)/?$",
        intakes.SignedWebhookView.as_view(),
        name="signal-webhook",
    ),
    re_path(
        r"^models/(?P<name>[-\w]+)/feedback/?$",
        feedback.ModelFeedbackView.as_view(),
        name="model-feedback",
    ),
    re_path(
        r"^incidents/(?P<pk>[0-9]+)/notice/?$",
        feedback.IncidentNoticeView.as_view(),
        name="incident-notice",
    ),
    re_path(
        r"^incidents/(?P<pk>[0-9]+)/notice/publish/?$",
        feedback.IncidentNoticePublishView.as_view(),
        name="incident-notice-publish",
    ),
    re_path(
        r"^incidents/(?P<pk>[0-9]+)/notice/withdraw/?$",
        feedback.IncidentNoticeWithdrawView.as_view(),
        name="incident-notice-withdraw",
    ),
    *router.urls,
]
