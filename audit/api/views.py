from rest_framework import permissions, viewsets

from audit.api.serializers import AuditEventSerializer
from audit.filtersets import AuditEventFilter
from audit.models import AuditEvent


class CanViewAuditTrail(permissions.BasePermission):
    """Holders of ``audit.view_auditevent`` (auditor, board, admin) read the whole trail."""

    message = "Reading the audit trail needs the auditor, board or admin role."

    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("audit.view_auditevent"))


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, read-only, filterable by object, actor and time window."""

    queryset = AuditEvent.objects.order_by("seq")
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    permission_classes = [permissions.IsAuthenticated, CanViewAuditTrail]
    lookup_field = "seq"
