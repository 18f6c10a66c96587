"""A reading proves its monitor alive: triage tells every threshold a signal was
matched to, moving its ``last_reading_at`` forward, and a threshold
that was silent recovers: its silence ends (a conditional UPDATE, so two triages
of two readings recover it once), an audit event says for how long it was silent,
and the investigation task its ``monitor-silent`` signal opened is closed."""

from datetime import datetime

from django.db.models import Q

from playbooks.choices import SignalKind, TaskStatus
from playbooks.models import InvestigationTask
from playbooks.services.common import Trail
from risk.models import Threshold


class Readings:
    """The readings of one triage batch: per threshold that expects readings (a
    cadence), the latest moment observed; the others keep no heartbeat, and an
    alert's triage costs them no statement."""

    def __init__(self):
        self.latest: dict[int, datetime] = {}
        self.silent: dict[int, Threshold] = {}  # thresholds loaded while silent

    def add(self, threshold: Threshold, moment: datetime) -> None:
        if threshold.expected_every is None and threshold.silent_since is None:
            return
        if threshold.pk not in self.latest or moment > self.latest[threshold.pk]:
            self.latest[threshold.pk] = moment
        if threshold.silent_since is not None:
            self.silent[threshold.pk] = threshold

    def write(self, now: datetime, trail: Trail) -> None:
        """Store the last readings (one UPDATE per distinct moment) and recover the
        thresholds that were silent."""
        by_moment: dict[datetime, list[int]] = {}
        for pk, moment in self.latest.items():
            by_moment.setdefault(moment, []).append(pk)
        for moment, ids in by_moment.items():
            Threshold.objects.filter(pk__in=ids).filter(
                Q(last_reading_at__isnull=True) | Q(last_reading_at__lt=moment)
            ).update(last_reading_at=moment)
        for pk, threshold in self.silent.items():
            recover(threshold, self.latest[pk], now, trail)


def recover(threshold: Threshold, reading_at: datetime, now: datetime, trail: Trail) -> bool:
    """End the silence of ``threshold`` once; close the tasks its silence opened."""
    silent_since = threshold.silent_since
    ended = Threshold.objects.filter(pk=threshold.pk, silent_since=silent_since).update(
        silent_since=None
    )
    if ended != 1:
        return False
    threshold.silent_since = None
    trail.decision(
        "threshold.recover",
        threshold,
        metric=threshold.metric,
        silent_since=silent_since.isoformat(),
        reading_at=reading_at.isoformat(),
        silent_for_seconds=int((reading_at - silent_since).total_seconds()),
    )
    resolution = (
        f"Readings of {threshold.metric!r} returned at {reading_at:%Y-%m-%d %H:%M} UTC; "
        "the monitor is alive again."
    )
    tasks = InvestigationTask.objects.filter(
        status=TaskStatus.OPEN,
        signals__kind=SignalKind.MONITOR_SILENT,
        signals__threshold=threshold,
    ).distinct()
    for task in tasks:
        closed = InvestigationTask.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
            status=TaskStatus.DONE, closed_at=now, resolution=resolution
        )
        if closed == 1:
            trail.decision(
                "investigation.close", task, resolution=resolution, by="heartbeat recovery"
            )
    return True
