"""The incident board's entries on the console's home page and model page: open
incidents of my teams with their report clocks, serious-incident reports not yet sent,
the "open incident" health mark on the live-now matrix, the model page's incidents,
and how "changes since my last visit" finds the incidents a user may see.

Every read is scoped through ``accounts.permissions``; each panel and section is a
bounded number of queries, whatever the number of incidents.
"""

from django.db.models import Case, IntegerField, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from accounts.permissions import may_any, scope_queryset
from audit.ui.history import event_scope
from console.registry import Panel, home_panel
from playbooks.choices import ACTIVE_STATUSES, Severity
from playbooks.models import Incident
from playbooks.ui.clock import report_clock
from registry.gate.ui import ROW_LINK, ROW_TONE, Section
from registry.models import MLModel
from registry.ui.health import Mark, health_mark
from registry.ui.sections import model_section

PANEL_ROWS = 10
SECTION_ROWS = 50
SEVERITY_RANK = Case(
    *(When(severity=value, then=Value(rank)) for rank, value in enumerate(Severity.values)),
    default=Value(len(Severity.values)),
    output_field=IntegerField(),
)


def visible_incidents(user):
    return scope_queryset(Incident.objects.all(), user, "model", MLModel, ("view", "approve"))


def _unreported():
    """Serious incidents whose report is neither sent nor determined not reportable."""
    return (
        Q(report_deadline__isnull=False, reported_at__isnull=True)
        & ~Q(serious_category="")
        & Q(not_reportable_at__isnull=True)
    )


@home_panel("open-incidents", order=15)
def open_incidents(request):
    """Active incidents of the models the user sees, most severe first, with the
    regulatory report clock counting down (overdue in red)."""
    user = request.user
    if not may_any(user, ("view", "approve"), MLModel):
        return None
    now = timezone.now()
    active = (
        visible_incidents(user)
        .filter(status__in=ACTIVE_STATUSES)
        .select_related("model")
        .annotate(severity_rank=SEVERITY_RANK)
        .order_by("severity_rank", "report_deadline", "-opened_at", "-pk")
    )
    incidents = list(active[: PANEL_ROWS + 1])
    rows = [{"incident": i, "clock": report_clock(i, now)} for i in incidents[:PANEL_ROWS]]
    overdue = any(row["clock"] is not None and row["clock"].overdue for row in rows)
    return Panel(
        "Open incidents",
        "playbooks/ui/_incidents_panel.html",
        {"rows": rows, "more": len(incidents) > PANEL_ROWS},
        count=len(incidents) if len(incidents) <= PANEL_ROWS else None,
        tone="alert" if overdue or any(i.severity == Severity.CRITICAL for i in incidents) else "",
    )


@home_panel("reports-not-sent", order=16)
def reports_not_sent(request):
    """Serious incidents (Art. 73) whose report has not reached the authority, the
    nearest deadline first; shown only when there is one."""
    user = request.user
    if not may_any(user, ("view", "approve"), MLModel):
        return None
    now = timezone.now()
    pending = (
        visible_incidents(user)
        .filter(_unreported())
        .select_related("model")
        .order_by("report_deadline", "pk")
    )
    incidents = list(pending[: PANEL_ROWS + 1])
    if not incidents:
        return None
    rows = [{"incident": i, "clock": report_clock(i, now)} for i in incidents[:PANEL_ROWS]]
    return Panel(
        "Serious-incident reports not yet sent",
        "playbooks/ui/_reports_panel.html",
        {"rows": rows, "more": len(incidents) > PANEL_ROWS},
        count=len(incidents) if len(incidents) <= PANEL_ROWS else None,
        tone="alert" if any(row["clock"] and row["clock"].overdue for row in rows) else "",
    )


@health_mark("open-incident", order=10)
def incidents_on(deployments):
    """A deployment whose model has an active incident (on that deployment, that
    version, or the model as a whole): one query for the whole list."""
    model_ids = {d.model_id for d in deployments}
    counts: dict[tuple, int] = {}
    first: dict[int, int] = {}
    for model_id, deployment_id, version_id, pk in (
        Incident.objects.filter(model__in=model_ids, status__in=ACTIVE_STATUSES)
        .order_by("pk")
        .values_list("model_id", "deployment_id", "model_version_id", "pk")
    ):
        counts[(model_id, deployment_id, version_id)] = (
            counts.get((model_id, deployment_id, version_id), 0) + 1
        )
        first.setdefault(model_id, pk)
    marks = {}
    for deployment in deployments:
        mine = sum(
            n
            for (model_id, deployment_id, version_id), n in counts.items()
            if model_id == deployment.model_id
            and (deployment_id in (None, deployment.pk))
            and (version_id in (None, deployment.model_version_id))
        )
        if mine:
            marks[deployment.pk] = [
                Mark(
                    "incident",
                    "bad",
                    f"{mine} active incident{'s' if mine != 1 else ''} on this deployment's model",
                    reverse("ui-incident-detail", args=[first[deployment.model_id]]),
                )
            ]
    return marks


@model_section("incidents", order=40)
def incidents(model, user) -> Section:
    """The model's incidents, active ones first, with their report clocks."""
    now = timezone.now()
    queryset = (
        visible_incidents(user)
        .filter(model=model)
        .select_related("model_version")
        .annotate(
            active=Case(
                When(status__in=ACTIVE_STATUSES, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            severity_rank=SEVERITY_RANK,
        )
        .order_by("-active", "severity_rank", "-opened_at", "-pk")
    )
    rows = []
    for incident in queryset[:SECTION_ROWS]:
        clock = report_clock(incident, now)
        rows.append(
            {
                "incident": f"#{incident.pk} {incident.title}",
                "severity": incident.severity,
                "status": incident.status,
                "version": f"v{incident.model_version.version}"
                if incident.model_version_id
                else "",
                "opened": f"{incident.opened_at:%Y-%m-%d %H:%M}",
                "report": clock.text if clock else "",
                ROW_TONE: "bad"
                if (clock and clock.overdue)
                or (incident.active and incident.severity == Severity.CRITICAL)
                else ("warn" if incident.active else ""),
                ROW_LINK: reverse("ui-incident-detail", args=[incident.pk]),
            }
        )
    return Section(
        "Incidents",
        columns=["incident", "severity", "status", "version", "opened", "report"],
        rows=rows,
        empty="No incident was opened on this model.",
    )


@event_scope("playbooks.incident")
def _incidents(user):
    return visible_incidents(user)
