"""Gauges for /metrics (registered in AppConfig.ready)."""

from django.db.models import Count

from playbooks.choices import ACTIVE_STATUSES, IncidentStatus, Severity
from playbooks.models import Incident


def open_incidents() -> dict:
    counts = dict(
        Incident.objects.filter(status__in=ACTIVE_STATUSES)
        .values_list("severity")
        .annotate(n=Count("pk"))
        .values_list("severity", "n")
    )
    return {(severity,): counts.get(severity, 0) for severity in Severity.values}


def unacknowledged_incidents() -> int:
    return Incident.objects.filter(status=IncidentStatus.OPEN).count()


def overdue_incident_reports() -> int:
    return Incident.objects.report_overdue().count()


def register() -> None:
    from config.metrics import register_gauge

    register_gauge(
        "govreg_open_incidents",
        "Incidents not yet resolved (open, acknowledged or contained), by severity.",
        ("severity",),
        open_incidents,
    )
    register_gauge(
        "govreg_unacknowledged_incidents",
        "Incidents nobody has acknowledged yet.",
        (),
        unacknowledged_incidents,
    )
    register_gauge(
        "govreg_overdue_incident_reports",
        "Serious incidents whose EU AI Act report deadline passed with no report recorded "
        "and no not-reportable determination.",
        (),
        overdue_incident_reports,
    )
