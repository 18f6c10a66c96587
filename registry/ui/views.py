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
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import may
from registry import services as catalog
from registry.choices import DeploymentState, RequestKind, RequestStatus
from registry.gate import decisions, services
from registry.gate.api import visible_requests
from registry.gate.ui import sections_for

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
    """One request: the version, its lineage, the checks, the approvals, the forms."""
    deployment_request = services.current(_visible(request, pk))  # judged, not stored
    version = deployment_request.model_version
    model = version.model
    allowed, why_not = decisions.can_approve(request.user, deployment_request.action, model)
    conflicts = decisions.conflicted_users(version, deployment_request.requested_by_id)
    if allowed and request.user.pk in conflicts:
        allowed, why_not = False, f"Separation of duties: you {conflicts[request.user.pk]}."
    open_for_decision = not services.is_settled(deployment_request)
    right = decisions.rights_for(deployment_request.action, model, deployment_request.environment)
    live_now = None
    if deployment_request.kind == RequestKind.ROLLBACK:
        live_now = (
            model.deployments.filter(
                environment=deployment_request.environment, state=DeploymentState.LIVE
            )
            .select_related("model_version")
            .first()
        )
    return render(
        request,
        "registry/ui/request_detail.html",
        {
            "dr": deployment_request,
            "version": version,
            "model": model,
            "training_data": catalog.training_data(version),
            "approvals": list(deployment_request.approvals.all()),
            "sections": sections_for(deployment_request, request.user),
            "may_decide": allowed and open_for_decision,
            "why_not": why_not if open_for_decision else "",
            "is_rollback": deployment_request.kind == RequestKind.ROLLBACK,
            "valid_for": (
                services.describe_duration(right.approval_valid_for) if right is not None else ""
            ),
            "live_now": live_now,
            "failing_checks": [
                c["name"]
                for c in deployment_request.checks
                if not c["passed"] and c["name"] != "approvals-complete"
            ],
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
