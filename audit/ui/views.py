"""The audit trail page: every event, filtered and paged, for those who read the trail
(auditor, board, admin: ``audit.view_auditevent``), with links to the exports."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.models import AuditEvent
from audit.ui.filters import AuditTrailFilter
from audit.ui.history import sees_whole_trail

PAGE_SIZE = 50


@require_GET
@login_required
def trail(request):
    if not sees_whole_trail(request.user):
        raise PermissionDenied("Reading the audit trail needs the auditor, board or admin role.")
    filters = AuditTrailFilter(request.GET, queryset=AuditEvent.objects.order_by("-seq"))
    events = filters.qs if filters.is_valid() else AuditEvent.objects.none()
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/ui/trail.html",
        {"filters": filters, "page": page, "query": query.urlencode()},
    )
