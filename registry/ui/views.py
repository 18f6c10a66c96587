"""The board's pages: pending deployment requests, and one request to decide on.

Server-rendered, session login (``/admin/login/``), CSRF-protected forms. The
same services as the API decide; a refusal is shown as a message on the page.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import may
from registry import services as catalog
from registry.choices import RequestStatus
from registry.gate import services
from registry.gate.api import visible_requests
from registry.gate.checks import evaluation
from registry.gate.ui import live_deployment, sections_for
from registry.ui import decision

PAGE_SIZE = 100


@require_GET
@login_required
def request_list(request):
    """Pending requests the user may see (``?status=all`` for every one)."""
    wanted = request.GET.get("status", RequestStatus.PENDING)
    queryset = (
        visible_requests(request.user)
        .select_related("model_version__model__team", "environment", "requested_by")
        .annotate(
            approvals_given=Count(
                "approvals",
                filter=Q(approvals__lapsed_at__isnull=True, approvals__verdict="approve"),
            )
        )
        .order_by("-created_at", "-pk")
    )
    if wanted in RequestStatus.values:
        queryset = queryset.filter(status=wanted)
    return render(
        request,
        "registry/ui/request_list.html",
        {
            "requests": list(queryset[:PAGE_SIZE]),
            "status": wanted,
            "statuses": [*RequestStatus.values, "all"],
        },
    )


def _visible(request, pk):
    deployment_request = services.load(pk)
    if not may(request.user, "view", deployment_request):
        raise Http404("No deployment request with this id is visible to you.")
    return deployment_request


@require_GET
@login_required
def request_detail(request, pk):
    """Everything needed to decide on one request, on one page: the summary (status,
    required approvals, failing checks) and the decide box first, then the checks with
    their reasons, the training data, the sections other apps register (evaluations,
    risks, incidents), what the request replaces and what changed against the version
    live now. Judged as of now; nothing is written."""
    now = timezone.now()
    deployment_request = services.current(_visible(request, pk), now)  # judged, not stored
    version = deployment_request.model_version
    with evaluation():  # the page and the sections share their reads
        live = live_deployment(deployment_request)
        context = decision.decision_context(deployment_request, request.user, now, live)
        sections = sections_for(deployment_request, request.user)
        training_data = catalog.training_data(version)
    failing = [c for c in deployment_request.checks if not c["passed"]]
    return render(
        request,
        "registry/ui/request_detail.html",
        {
            **context,
            "dr": deployment_request,
            "version": version,
            "model": version.model,
            "training_data": training_data,
            "sections": [s for s in sections if s.group != "changes"],
            "change_sections": [s for s in sections if s.group == "changes"],
            "may_decide": context["me"].allowed,
            "why_not": "" if services.is_settled(deployment_request) else context["me"].reason,
            "valid_for": context["me"].valid_for,
            "failing_checks": [c["name"] for c in failing if c["name"] != "approvals-complete"],
            "failing": failing,
            "rejections": [r for r in deployment_request.reasons if r.startswith("rejected by ")],
        },
    )


def _decide(request, pk, verb):
    _visible(request, pk)
    comment = request.POST.get("comment", "")
    try:
        if verb == "approve":
            services.approve(pk, request.user, comment)
            messages.success(request, "Your approval is recorded.")
        else:
            services.reject(pk, request.user, comment)
            messages.success(request, "Your rejection is recorded.")
    except (services.GateRefused, services.GateConflict) as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("ui-request-detail", pk=pk)


@require_POST
@login_required
def approve(request, pk):
    return _decide(request, pk, "approve")


@require_POST
@login_required
def reject(request, pk):
    return _decide(request, pk, "reject")
