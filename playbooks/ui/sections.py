"""The playbooks' sections of the board's pages (registered in ``PlaybooksConfig.ready``):
open incidents of the model on the deployment-request page, and the incidents linked
to a risk on the risk page. One query each, scoped to what the viewer may see."""

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.permissions import scope_queryset
from playbooks.choices import ACTIVE_STATUSES, UNCONTAINED_STATUSES, Severity
from playbooks.models import Incident
from registry.gate.ui import ROW_LINK, ROW_TONE, Section, board_section
from registry.models import MLModel
from risk.ui.sections import risk_page_section

ROWS = 50


def _link(incident) -> str:
    try:
        return reverse("ui-incident-detail", args=[incident.pk])
    except NoReverseMatch:  # the incident board is not mounted
        return ""


def _rows(incidents, now) -> list[dict]:
    rows = []
    for incident in incidents:
        overdue = incident.report_overdue
        blocking = (
            incident.severity == Severity.CRITICAL and incident.status in UNCONTAINED_STATUSES
        )
        deadline = ""
        if incident.report_deadline is not None and incident.reported_at is None:
            deadline = f"{incident.report_deadline:%Y-%m-%d %H:%M}" + (
                " (overdue)" if overdue else ""
            )
        rows.append(
            {
                "incident": f"#{incident.pk} {incident.title}",
                "severity": incident.severity,
                "status": incident.status,
                "version": str(incident.model_version.version) if incident.model_version else "",
                "opened": f"{incident.opened_at:%Y-%m-%d %H:%M}",
                "report due": deadline,
                ROW_TONE: "bad"
                if blocking or overdue
                else ("warn" if incident.status in ACTIVE_STATUSES else ""),
                ROW_LINK: _link(incident),
            }
        )
    return rows


COLUMNS = ["incident", "severity", "status", "version", "opened", "report due"]


def _visible(user):
    return scope_queryset(Incident.objects.all(), user, "model", MLModel)


@board_section("incidents", order=120)
def open_incidents(deployment_request, user) -> Section:
    """Open, acknowledged or contained incidents of the request's model."""
    now = timezone.now()
    model_id = deployment_request.model_version.model_id
    incidents = list(
        _visible(user)
        .filter(model_id=model_id, status__in=ACTIVE_STATUSES)
        .select_related("model_version")
        .order_by("opened_at", "pk")[:ROWS]
    )
    rows = _rows(incidents, now)
    blocking = sum(1 for row in rows if row[ROW_TONE] == "bad")
    return Section(
        "Open incidents",
        columns=COLUMNS,
        rows=rows,
        note="An uncontained critical incident blocks deployments of the model.",
        empty="No open incident on this model.",
        summary=(f"{len(rows)} open, {blocking} blocking or overdue" if rows else "none open"),
        tone="alert" if blocking else "",
    )


@risk_page_section("incidents", order=100)
def risk_incidents(risk, user) -> Section:
    """Incidents linked to the risk, newest first."""
    now = timezone.now()
    incidents = list(
        _visible(user)
        .filter(risks=risk)
        .select_related("model_version")
        .order_by("-opened_at", "-pk")[:ROWS]
    )
    return Section(
        "Linked incidents",
        columns=COLUMNS,
        rows=_rows(incidents, now),
        empty="No incident is linked to this risk.",
    )
