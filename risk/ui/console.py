"""The risk register's entries in the console: home panels (acceptances awaiting my
decision, risk reviews due), the "acceptance expired" health mark on the live-now
matrix, the model page's sections (required evaluations per version, risks,
thresholds) and how "changes since my last visit" finds the risk records a user sees.

Every read is scoped through ``accounts.permissions``; every panel and section reads
a bounded number of queries, whatever the size of the register.
"""

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.urls import reverse
from django.utils import timezone

from accounts.permissions import may_any, scope_queryset
from accounts.roles import Role, has_role
from audit.ui.history import event_scope
from console.registry import Panel, home_panel
from registry.gate.ui import ROW_LINK, ROW_TONE, Section
from registry.models import MLModel
from registry.ui.health import Mark, health_mark
from registry.ui.sections import model_section
from risk import services
from risk.checks import KIND_LABELS, required_kinds
from risk.choices import AcceptanceStatus, ReviewState, RiskLevel
from risk.models import (
    Evaluation,
    Risk,
    RiskAcceptance,
    RiskAcceptanceApproval,
    Threshold,
)
from risk.ui.sections import score

PANEL_ROWS = 10
CANDIDATES = PANEL_ROWS * 3
VERSIONS_EVALUATED = 10
SECTION_ROWS = 50


def visible_risks(user):
    return scope_queryset(Risk.objects.all(), user)


# --- home panels ---------------------------------------------------------------------


def awaiting_my_decision(user):
    """Requested acceptances of risks the user may see that they have not voted on,
    did not ask for and do not own: a queryset, oldest request first."""
    voted = RiskAcceptanceApproval.objects.filter(acceptance=OuterRef("pk"), approver=user)
    return (
        RiskAcceptance.objects.filter(
            status=AcceptanceStatus.REQUESTED, risk__in=visible_risks(user).values("pk")
        )
        .exclude(Exists(voted))
        .exclude(requested_by=user)
        .exclude(risk__owner=user)
        .select_related("risk", "requested_by")
        .order_by("requested_at", "pk")
    )


@home_panel("acceptances", order=20)
def acceptances(request):
    """For approvers: acceptances whose decision right they hold (``can_decide_acceptance``)."""
    user = request.user
    if not has_role(user, Role.APPROVER):
        return None
    candidates = list(awaiting_my_decision(user)[:CANDIDATES])
    rows = [a for a in candidates if services.can_decide_acceptance(user, a.risk)[0]]
    more = len(rows) > PANEL_ROWS or len(candidates) == CANDIDATES
    return Panel(
        "Risk acceptances awaiting my decision",
        "risk/ui/_acceptances_panel.html",
        {"rows": rows[:PANEL_ROWS], "more": more},
        count=None if more else len(rows),
        tone="alert" if rows else "",
    )


@home_panel("risk-reviews", order=30)
def risk_reviews(request):
    """Live risks the user may see whose review is overdue or due within the notice
    period, overdue first; the user's own risks first for a risk owner."""
    user = request.user
    if not may_any(user, "view", Risk):
        return None
    today = timezone.localdate()
    due = Risk.objects.review_state(ReviewState.OVERDUE, today) | Risk.objects.review_state(
        ReviewState.DUE, today
    )
    risks = visible_risks(user).filter(pk__in=due.values("pk")).select_related("owner", "team")
    rows = list(risks.order_by("next_review_date", "pk")[: PANEL_ROWS + 1])
    for risk in rows:
        risk.overdue = risk.next_review_date < today
    overdue = sum(1 for risk in rows if risk.overdue)
    return Panel(
        "Risk reviews due",
        "risk/ui/_reviews_panel.html",
        {"rows": rows[:PANEL_ROWS], "more": len(rows) > PANEL_ROWS, "today": today},
        count=len(rows) if len(rows) <= PANEL_ROWS else None,
        tone="alert" if overdue else "",
    )


# --- the live-now matrix's health mark -------------------------------------------------


@health_mark("acceptance", order=20)
def expired_acceptances(deployments):
    """A deployment of a model with a live risk above its appetite whose acceptance
    has expired (or been revoked) and was not renewed: one query for the whole list."""
    now = timezone.now()
    model_ids = {d.model_id for d in deployments}
    valid = RiskAcceptance.objects.filter(
        risk=OuterRef("pk"), status=AcceptanceStatus.ACCEPTED, expires_at__gt=now
    )
    lapsed = RiskAcceptance.objects.filter(risk=OuterRef("pk")).filter(
        Q(status__in=(AcceptanceStatus.EXPIRED, AcceptanceStatus.REVOKED))
        | Q(status=AcceptanceStatus.ACCEPTED, expires_at__lte=now)
    )
    risks = (
        Risk.objects.live()
        .above_appetite()
        .filter(Exists(lapsed))
        .exclude(Exists(valid))
        .filter(
            Q(ml_models__in=model_ids)
            | Q(model_versions__model__in=model_ids)
            | Q(deployments__model__in=model_ids)
        )
        .values_list("pk", "title", "ml_models", "model_versions__model", "deployments__model")
    )
    by_model: dict[int, dict[int, str]] = {}
    for pk, title, *models in risks:
        for model_id in models:
            if model_id in model_ids:
                by_model.setdefault(model_id, {})[pk] = title
    marks = {}
    for deployment in deployments:
        lapsed_risks = by_model.get(deployment.model_id)
        if lapsed_risks:
            first = min(lapsed_risks)
            names = "; ".join(f"#{pk} {title}" for pk, title in sorted(lapsed_risks.items()))
            marks[deployment.pk] = [
                Mark(
                    "acceptance expired",
                    "warn",
                    f"Above appetite, acceptance expired: {names}",
                    reverse("ui-risk-detail", args=[first]),
                )
            ]
    return marks


# --- the model page's sections -----------------------------------------------------------


@model_section("evaluations", order=10)
def evaluations(model, user) -> Section:
    """The evaluation kinds the model's tier requires, per version (newest first):
    passed, failing or missing, from the latest result of each test case."""
    kinds = required_kinds(model.risk_tier)
    versions = list(model.versions.order_by("-created_at", "-pk")[:VERSIONS_EVALUATED])
    latest: dict[tuple[int, str, str], bool] = {}
    results = (
        Evaluation.objects.filter(model_version__in=versions, kind__in=kinds)
        .order_by("model_version", "kind", "name", "-created_at", "-pk")
        .values_list("model_version", "kind", "name", "passed")
    )
    for version_id, kind, name, passed in results:
        latest.setdefault((version_id, kind, name), passed)
    columns = ["version", *(KIND_LABELS.get(kind, kind) for kind in kinds), "gate"]
    rows = []
    for version in versions:
        row = {"version": f"v{version.version}"}
        gaps = 0
        for kind in kinds:
            cases = [p for (v, k, _), p in latest.items() if v == version.pk and k == kind]
            if not cases:
                row[KIND_LABELS.get(kind, kind)], gaps = "missing", gaps + 1
            elif all(cases):
                row[KIND_LABELS.get(kind, kind)] = f"passed ({len(cases)})"
            else:
                failing = sum(1 for passed in cases if not passed)
                row[KIND_LABELS.get(kind, kind)], gaps = f"failing ({failing})", gaps + 1
        row["gate"] = "would pass" if not gaps else f"{gaps} gap{'s' if gaps != 1 else ''}"
        row[ROW_TONE] = "bad" if gaps else "ok"
        rows.append(row)
    required = ", ".join(KIND_LABELS.get(k, k) for k in kinds) or "none"
    return Section(
        "Required evaluations",
        columns=columns if kinds else ["version", "gate"],
        rows=rows if kinds else [],
        note=f"The {model.risk_tier} tier requires: {required}. Latest result per test case.",
        empty="This tier requires no evaluation." if not kinds else "No version registered.",
    )


def _linked(model):
    return Q(ml_models=model) | Q(model_versions__model=model) | Q(deployments__model=model)


@model_section("risks", order=20)
def risks(model, user) -> Section | None:
    """Live risks linked to the model, one of its versions or deployments."""
    if not may_any(user, "view", Risk):
        return None
    now = timezone.now()
    acceptances = Prefetch(
        "acceptances",
        queryset=RiskAcceptance.objects.filter(
            status__in=(AcceptanceStatus.REQUESTED, AcceptanceStatus.ACCEPTED)
        ).order_by("-requested_at", "-pk"),
        to_attr="current",
    )
    linked = Risk.objects.live().filter(_linked(model)).values("pk")
    risks = list(
        visible_risks(user)
        .filter(pk__in=linked)
        .select_related("owner")
        .prefetch_related(acceptances)
        .order_by("pk")[:SECTION_ROWS]
    )
    rows = []
    for risk in risks:
        current = risk.current[0] if risk.current else None
        valid = current is not None and current.is_valid(now)
        if valid:
            acceptance = f"accepted until {current.expires_at:%Y-%m-%d}"
        elif current is not None and current.status == AcceptanceStatus.ACCEPTED:
            acceptance = f"expired on {current.expires_at:%Y-%m-%d}"
        elif current is not None:
            acceptance = "requested"
        else:
            acceptance = "none"
        over = RiskLevel.rank(risk.residual_level) > RiskLevel.rank(risk.appetite)
        rows.append(
            {
                "risk": f"#{risk.pk} {risk.title}",
                "inherent": score(risk, "inherent"),
                "residual": score(risk, "residual"),
                "appetite": risk.appetite + (" (above)" if over else ""),
                "acceptance": acceptance,
                "next review": f"{risk.next_review_date:%Y-%m-%d}",
                ROW_TONE: "bad" if over and not valid else ("warn" if over else ""),
                ROW_LINK: reverse("ui-risk-detail", args=[risk.pk]),
            }
        )
    return Section(
        "Risks",
        columns=["risk", "inherent", "residual", "appetite", "acceptance", "next review"],
        rows=rows,
        empty="No live risk is linked to this model.",
    )


@model_section("thresholds", order=30)
def thresholds(model, user) -> Section | None:
    """The monitoring thresholds of the model's versions and deployments."""
    if not may_any(user, "view", Risk):
        return None
    rows = []
    for threshold in (
        Threshold.objects.filter(Q(model_version__model=model) | Q(deployment__model=model))
        .filter(risk__in=visible_risks(user).values("pk"))
        .select_related("risk", "model_version", "deployment__environment")
        .order_by("metric", "pk")[:SECTION_ROWS]
    ):
        where = (
            f"deployment in {threshold.deployment.environment.name}"
            if threshold.deployment_id
            else f"v{threshold.model_version.version}"
        )
        rows.append(
            {
                "metric": threshold.metric,
                "bad when": threshold.get_comparator_display(),
                "warning": threshold.warning_value,
                "critical": threshold.critical_value,
                "of": where,
                "risk": f"#{threshold.risk_id} {threshold.risk.title}",
            }
        )
    return Section(
        "Thresholds",
        columns=["metric", "bad when", "warning", "critical", "of", "risk"],
        rows=rows,
        empty="No threshold watches this model.",
    )


# --- what "changes since my last visit" may show --------------------------------------------


@event_scope("risk.risk")
def _risks(user):
    return visible_risks(user)


@event_scope("risk.riskacceptance")
def _acceptances(user):
    return scope_queryset(RiskAcceptance.objects.all(), user, "risk", Risk)


@event_scope("risk.evaluation")
def _evaluations(user):
    return scope_queryset(
        Evaluation.objects.all(), user, "model_version__model", MLModel, ("view", "approve")
    )
