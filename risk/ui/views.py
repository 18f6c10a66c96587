"""The risk register's pages: the heat map, the register with its filters, one risk
(controls, acceptances and their decisions, thresholds and their recalibrations,
reviews, linked incidents, history).

Every read goes through ``accounts.permissions.scope_queryset`` (another team's risk
is a 404); every form is a CSRF-protected POST that calls ``risk.services``, which
audit the change; a refusal comes back as a message on the page.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, Count, IntegerField, Prefetch, Value, When
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import may, scope_queryset
from audit.ui.history import history
from registry.choices import Verdict
from risk import services, sufficiency
from risk.choices import AcceptanceStatus, RiskLevel, RiskStatus
from risk.models import (
    Risk,
    RiskAcceptance,
    RiskAcceptanceApproval,
    RiskMatrix,
    Threshold,
)
from risk.ui.filters import AXES, RiskRegisterFilter
from risk.ui.sections import risk_sections_for

PAGE_SIZE = 50
SEVERITY = Case(
    *[When(residual_level=level, then=Value(rank)) for rank, level in enumerate(RiskLevel.values)],
    default=Value(-1),
    output_field=IntegerField(),
)


def _visible_risks(user):
    return scope_queryset(Risk.objects.all(), user)


def _filters(request, queryset) -> RiskRegisterFilter:
    filters = RiskRegisterFilter(request.GET, queryset=queryset, request=request)
    filters.form.fields["team"].widget.attrs["list"] = "team-names"
    return filters


def _team_names(visible) -> list[str]:
    return list(
        Group.objects.filter(risks__in=visible.values("pk"))
        .distinct()
        .order_by("name")
        .values_list("name", flat=True)
    )


@require_GET
@login_required
def register(request):
    """The register: the risks the user may see, filtered, most severe first, paginated."""
    visible = _visible_risks(request.user)
    filters = _filters(request, visible)
    if filters.is_valid():
        risks = filters.qs
    else:
        risks = visible.none()
        messages.error(request, "Some filters were not understood: " + filters.errors.as_text())
    risks = (
        risks.select_related("team", "owner")
        .prefetch_related("ml_models")
        .annotate(severity=SEVERITY)
        .order_by("-severity", "-residual_likelihood", "next_review_date", "pk")
    )
    page = Paginator(risks, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    monitoring = sufficiency.reports(rows)
    for risk in rows:
        risk.monitoring = monitoring[risk.pk]
    keep = request.GET.copy()
    keep.pop("page", None)
    cell = filters.cell() if filters.is_valid() else None
    return render(
        request,
        "risk/ui/register.html",
        {
            "filters": filters,
            "page": page,
            "risks": rows,
            "query": keep.urlencode(),
            "cell": cell,
            "cell_clear": _without_cell(request.GET),
            "team_names": _team_names(visible),
        },
    )


def _without_cell(params: QueryDict) -> str:
    kept = params.copy()
    for axis in AXES:
        kept.pop(f"{axis}_likelihood", None)
        kept.pop(f"{axis}_impact", None)
    kept.pop("page", None)
    return kept.urlencode()


@require_GET
@login_required
def heatmap(request):
    """The matrix as a coloured grid of counts, inherent or residual (``?axis=``); each
    cell links to the register narrowed to that cell (with the same team/model filter)."""
    axis = request.GET.get("axis", "residual")
    if axis not in AXES:
        axis = "residual"
    matrix = RiskMatrix.objects.filter(pk=request.GET.get("matrix") or 0).first() or (
        RiskMatrix.default()
    )
    if matrix is None:
        raise Http404("No risk matrix exists.")
    visible = _visible_risks(request.user).filter(matrix=matrix)
    filters = _filters(request, visible)
    risks = filters.qs if filters.is_valid() else visible.none()
    counts = {
        (row[f"{axis}_likelihood"], row[f"{axis}_impact"]): row["n"]
        for row in risks.values(f"{axis}_likelihood", f"{axis}_impact")
        .annotate(n=Count("pk"))
        .order_by()
    }
    base = QueryDict(mutable=True)
    for name in ("team", "model", "status"):
        if request.GET.get(name):
            base[name] = request.GET[name]
    rows = []
    for likelihood in range(matrix.likelihood_size, 0, -1):  # most likely on top
        cells = []
        for impact in range(1, matrix.impact_size + 1):
            count = counts.get((likelihood, impact), 0)
            link = base.copy()
            link[f"{axis}_likelihood"] = likelihood
            link[f"{axis}_impact"] = impact
            cells.append(
                {
                    "likelihood": likelihood,
                    "impact": impact,
                    "level": matrix.levels[likelihood - 1][impact - 1],
                    "count": count,
                    "url": f"{reverse('ui-risk-list')}?{link.urlencode()}" if count else "",
                    "label": (
                        f"{matrix.likelihood_labels[likelihood - 1]} likelihood, "
                        f"{matrix.impact_labels[impact - 1]} impact"
                    ),
                }
            )
        rows.append({"label": matrix.likelihood_labels[likelihood - 1], "cells": cells})
    toggle = base.copy()
    return render(
        request,
        "risk/ui/heatmap.html",
        {
            "matrix": matrix,
            "axis": axis,
            "rows": rows,
            "impact_labels": matrix.impact_labels,
            "total": sum(counts.values()),
            "filters": filters,
            "toggle": toggle.urlencode(),
            "levels": RiskLevel.values,
            "team_names": _team_names(_visible_risks(request.user)),
        },
    )


def _risk_for(user, pk) -> Risk:
    risk = (
        _visible_risks(user)
        .select_related("team", "owner", "matrix")
        .prefetch_related(
            "ml_models",
            "model_versions__model",
            "dataset_versions__dataset",
            "controls__owner",
            Prefetch(
                "acceptances",
                queryset=RiskAcceptance.objects.select_related(
                    "requested_by", "decided_by"
                ).prefetch_related(
                    Prefetch(
                        "approvals",
                        queryset=RiskAcceptanceApproval.objects.order_by("created_at", "pk"),
                    )
                ),
            ),
            Prefetch(
                "thresholds",
                queryset=Threshold.objects.select_related(
                    "model_version__model", "deployment__environment"
                ).prefetch_related("recalibrations"),
            ),
        )
        .filter(pk=pk)
        .first()
    )
    if risk is None:
        raise Http404("No risk with this id is visible to you.")
    return risk


def _acceptance_standing(user, risk, acceptance) -> dict:
    """For the acceptance awaiting a decision: may the viewer decide, and what is missing."""
    allowed, reason = services.can_decide_acceptance(user, risk)
    conflicts = {
        risk.owner_id: "own the risk",
        acceptance.requested_by_id: "requested this acceptance",
    }
    if allowed and user.pk in conflicts:
        allowed, reason = False, f"Separation of duties: you {conflicts[user.pk]}."
    if allowed and any(a.approver_id == user.pk for a in acceptance.approvals.all()):
        allowed, reason = False, "You have already decided on this acceptance."
    tally = services.acceptance_tally(acceptance)
    return {"allowed": allowed, "reason": reason, "missing": tally.missing}


@require_GET
@login_required
def risk_page(request, pk):
    """One risk with everything the board decides on it."""
    risk = _risk_for(request.user, pk)
    acceptances = list(risk.acceptances.all())
    pending = next((a for a in acceptances if a.status == AcceptanceStatus.REQUESTED), None)
    may_change = may(request.user, "change", risk)
    return render(
        request,
        "risk/ui/risk.html",
        {
            "risk": risk,
            "matrix": risk.matrix,
            "inherent_label": _cell_label(risk, "inherent"),
            "residual_label": _cell_label(risk, "residual"),
            "acceptances": acceptances,
            "pending": pending,
            "standing": _acceptance_standing(request.user, risk, pending) if pending else None,
            "thresholds": list(risk.thresholds.all()),
            "monitoring": sufficiency.report(risk),
            "controls": list(risk.controls.all()),
            "may_review": may_change and risk.status != RiskStatus.CLOSED,
            "review_state": risk.review_state(),
            "sections": risk_sections_for(risk, request.user),
            "history": history(
                risk,
                risk.acceptances.all(),
                risk.controls.all(),
                risk.thresholds.all(),
                limit=25,
            ),
        },
    )


def _cell_label(risk, axis) -> str:
    """ "Likely x Major": the matrix's words for the risk's cell on that axis."""
    matrix = risk.matrix
    likelihood = getattr(risk, f"{axis}_likelihood")
    impact = getattr(risk, f"{axis}_impact")
    try:
        return f"{matrix.likelihood_labels[likelihood - 1]} x {matrix.impact_labels[impact - 1]}"
    except (IndexError, TypeError):
        return ""


def _refused(request, exc) -> None:
    if isinstance(exc, ValidationError):
        messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, str(exc) or "You may not do this.")


@require_POST
@login_required
def review(request, pk):
    """Record that the risk was reviewed (the owning team); the next review moves on."""
    risk = _risk_for(request.user, pk)
    if not may(request.user, "change", risk):
        messages.error(request, "Only the owning team records a review of this risk.")
        return redirect("ui-risk-detail", pk=pk)
    try:
        services.record_review(risk, request.user, notes=request.POST.get("notes", "").strip())
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(
            request,
            "Your review is recorded; the next one is due on "
            f"{Risk.objects.get(pk=pk).next_review_date:%Y-%m-%d}.",
        )
    return redirect("ui-risk-detail", pk=pk)


def _decide(request, pk, verdict):
    acceptance = (
        RiskAcceptance.objects.filter(risk__in=_visible_risks(request.user), pk=pk)
        .select_related("risk")
        .first()
    )
    if acceptance is None:
        raise Http404("No risk acceptance with this id is visible to you.")
    comment = request.POST.get("comment", "").strip()
    try:
        services.decide_acceptance(acceptance, request.user, verdict=verdict, comment=comment)
    except (PermissionDenied, ValidationError) as exc:
        _refused(request, exc)
    else:
        acceptance.refresh_from_db(fields=["status"])
        if verdict == Verdict.REJECT:
            messages.success(request, "Your rejection is recorded; the acceptance is rejected.")
        elif acceptance.status == AcceptanceStatus.ACCEPTED:
            messages.success(request, "Your approval is recorded; the risk is now accepted.")
        else:
            messages.success(request, "Your approval is recorded; more approvals are needed.")
    return redirect("ui-risk-detail", pk=acceptance.risk_id)


@require_POST
@login_required
def approve_acceptance(request, pk):
    return _decide(request, pk, Verdict.APPROVE)


@require_POST
@login_required
def reject_acceptance(request, pk):
    return _decide(request, pk, Verdict.REJECT)
