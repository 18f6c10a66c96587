"""Lineage gauges for /metrics: stored events by kind, dataset versions by status."""

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
