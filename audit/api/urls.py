from django.urls import path
from rest_framework.routers import SimpleRouter

from audit.api.views import (
    AuditEventViewSet,
    AuditExportViewSet,
    CheckpointView,
    ConsistencyView,
    KeysView,
    ProofView,
)


class OptionalSlashRouter(SimpleRouter):
    """``/api/audit-exports/1/download`` and ``.../download/`` both answer."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("audit-events", AuditEventViewSet, basename="auditevent")
router.register("audit-exports", AuditExportViewSet, basename="auditexport")

urlpatterns = [
    path("audit/checkpoint", CheckpointView.as_view(), name="audit-checkpoint"),
    path("audit/proof", ProofView.as_view(), name="audit-proof"),
    path("audit/consistency", ConsistencyView.as_view(), name="audit-consistency"),
    path("audit/keys", KeysView.as_view(), name="audit-keys"),
    *router.urls,
]
