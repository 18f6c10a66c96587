"""Lineage gauges for /metrics: stored events by kind, dataset versions by status, the
queued projection's backlog, failures and lag."""

from django.db.models import Count

from config.metrics import register_gauge


def events_by_kind():
    from lineage.models import LineageEvent

    rows = LineageEvent.objects.values_list("kind").annotate(n=Count("pk")).order_by()
    return {(kind,): n for kind, n in rows}


def versions_by_status():
    from lineage.choices import VersionStatus
    from lineage.models import DatasetVersion

    counts = dict.fromkeys(((s,) for s in VersionStatus.values), 0)
    rows = DatasetVersion.objects.values_list("status").annotate(n=Count("pk")).order_by()
    counts.update({(status,): n for status, n in rows})
    return counts


def projection_queue():
    from lineage.queue import projection_gauges

    return projection_gauges()


def register() -> None:
    register_gauge(
        "govreg_lineage_events", "OpenLineage events stored, by kind", ("kind",), events_by_kind
    )
    register_gauge(
        "govreg_dataset_versions",
        "Dataset versions by governance status",
        ("status",),
        versions_by_status,
    )
    register_gauge(
        "govreg_lineage_projection_pending",
        "OpenLineage events stored and not yet projected (queued projection)",
        (),
        lambda: {(): projection_queue()["pending"]},
    )
    register_gauge(
        "govreg_lineage_projection_failed",
        "Queued OpenLineage events whose projection failed (manage.py project_lineage "
        "--retry-failed tries them again)",
        (),
        lambda: {(): projection_queue()["failed"]},
    )
    register_gauge(
        "govreg_lineage_projection_lag_seconds",
        "How long the oldest queued OpenLineage event has waited for its projection",
        (),
        lambda: {(): projection_queue()["lag"]},
    )
