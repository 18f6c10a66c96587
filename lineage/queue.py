"""Queued projection: the intake stores raw events, a worker projects them in bulk.

``GOVREG_LINEAGE_PROJECTION`` chooses:

- ``inline``: ``POST /api/v1/lineage`` (and ``/batch``) store and project each event
  in the request's transaction, as ``services.ingest_events`` does;
- ``queued``: the intake stores the raw event, its queue row
  (``PendingProjection``) and its ``lineage.ingest`` audit event, commits and
  answers; ``lineage.project_pending`` (a task nudged once the answer is written,
  and every minute by beat) projects the queue in id order, ``GOVREG_LINEAGE_PROJECTION_BATCH``
  events per transaction, one projector at a time;
- ``auto`` (the default): ``queued`` when Celery has a broker (tasks are not
  eager), else ``inline``. The embedded default is therefore inline.

What holds in queued mode:

- **Nothing is lost.** A queue row is deleted in the transaction that projects its
  event, so a projector killed mid-batch leaves the batch queued for the next one.
  An event whose projection fails on its own (whatever the error) stays queued with
  the error (``govreg_lineage_projection_failed`` on ``/metrics``) and no longer
  holds up the events after it; ``manage.py project_lineage --retry-failed`` tries
  it again. Retention never purges a queued event.
- **Read your writes.** Every lineage read of the API, the console and the admin, a
  model version's registration and the gate's ask and approve first project what is queued
  (``catch_up``), under the same lock: a version registered right after its
  training run's COMPLETE finds the run.
- **Same result.** Events are projected in the order they were stored, by the same
  set-based projection as inline (``projection.project_stored``); event time still
  decides run state and dataset facets.
- **Lag is visible**: ``govreg_lineage_projection_pending`` and
  ``govreg_lineage_projection_lag_seconds`` (the oldest queued event's wait).
"""

from __future__ import annotations

import functools
import logging
import threading
import time

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from lineage.models import LineageEvent, PendingProjection

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the projector: one projection transaction at a time
PROJECTOR_LOCK = 0x6C696E65  # "line"


def queued() -> bool:
    """Whether the intake queues its events (see the module docstring)."""
    mode = settings.GOVREG_LINEAGE_PROJECTION
    if mode == "auto":
        return not current_app.conf.task_always_eager
    return mode == "queued"


def nudge() -> None:
    """After the caller's transaction commits, ask a worker to project the queue; in a
    request, once its answer has been written (``request_finished``), so the emitter
    does not wait on the broker, and once per request however many commits asked.
    The worker runs ``GOVREG_LINEAGE_PROJECTION_DELAY_MS`` later and a process asks
    once per such window, so one run projects a burst instead of a run per event. A
    broker that cannot take the message loses nothing: beat's run projects it."""

    transaction.on_commit(_after_commit)


# whether this thread is serving a request, and whether that request owes a nudge
_request = threading.local()


def request_started(**kwargs) -> None:
    _request.active, _request.owes_nudge = True, False


def request_finished(**kwargs) -> None:
    owes = getattr(_request, "owes_nudge", False)
    _request.active = _request.owes_nudge = False
    if owes:
        _send_nudge()


def _after_commit() -> None:
    if getattr(_request, "active", False):
        _request.owes_nudge = True
    else:
        _send_nudge()


# The end (time.monotonic()) of this process's nudge window: a nudge is sent to run
# GOVREG_LINEAGE_PROJECTION_DELAY_MS later, and a commit before then needs none of its
# own, since that run (which projects until the queue is empty) starts after it.
_window = {"ends": 0.0}
_window_lock = threading.Lock()
_clock = time.monotonic


def _send_nudge() -> None:
    from lineage.tasks import project_pending_task

    delay = settings.GOVREG_LINEAGE_PROJECTION_DELAY_MS / 1000
    if current_app.conf.task_always_eager:
        delay = 0.0  # the task runs here and now: nothing to gather
    if delay:
        now = _clock()
        with _window_lock:
            if now < _window["ends"]:
                return
            _window["ends"] = now + delay
    try:
        project_pending_task.apply_async(  # nobody waits on it
            countdown=delay or None, retry=False, ignore_result=True
        )
    except Exception as exc:  # the broker is down: logged, beat's run catches up
        _window["ends"] = 0.0  # the next commit tries again
        logger.warning("lineage projection not queued (%s); beat will project it", exc)


def _lock() -> None:
    """Take the projector's lock for the rest of the transaction (PostgreSQL; SQLite
    serialises writers already, and the claim is the transaction's first write)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PROJECTOR_LOCK])


def _claim(limit: int, event_id: int | None = None) -> list[int]:
    """Delete up to ``limit`` queue rows (the oldest first, failed ones left), in the
    caller's transaction: their events are this transaction's to project."""
    table = connection.ops.quote_name(PendingProjection._meta.db_table)
    if event_id is not None:
        where, params = "event_id = %s", [event_id]
    else:
        where, params = "error = ''", []
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE event_id IN (SELECT event_id FROM {table} "  # noqa: S608
            f"WHERE {where} ORDER BY event_id LIMIT %s) RETURNING event_id",
            [*params, limit],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _project(ids: list[int]) -> None:
    from lineage.projection import project_stored
    from lineage.services import apply_tag_facets

    raws = list(LineageEvent.objects.filter(pk__in=ids).order_by("pk"))
    project_stored(raws)
    apply_tag_facets([raw.body for raw in raws])


def project_pending(*, batch_size: int | None = None, max_batches: int | None = None) -> int:
    """Project queued events until the queue is empty (or ``max_batches`` batches),
    each batch one transaction; the number projected. An error in a batch is retried
    one event per transaction, and an event failing alone keeps its queue row with
    the error (whatever the error: one bad event must not stall the queue)."""
    batch_size = batch_size or settings.GOVREG_LINEAGE_PROJECTION_BATCH
    projected = batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        ids: list[int] = []
        try:
            with transaction.atomic():
                _lock()
                ids = _claim(batch_size)
                if ids:
                    _project(ids)
        except Exception:  # noqa: BLE001 (each event again on its own: see _one_by_one)
            projected += _one_by_one(ids)
        else:
            projected += len(ids)
        if len(ids) < batch_size:
            break
    return projected


def _one_by_one(ids: list[int]) -> int:
    done = 0
    for event_id in ids:
        try:
            with transaction.atomic():
                _lock()
                if _claim(1, event_id):
                    _project([event_id])
                    done += 1
        except Exception as exc:  # noqa: BLE001
            # a poison event must not stall the queue: kept, with its error, logged with
            # the traceback and counted on /metrics (govreg_lineage_projection_failed)
            logger.exception("lineage event %s could not be projected", event_id)
            with transaction.atomic():
                PendingProjection.objects.filter(event_id=event_id).update(
                    error=f"{type(exc).__name__}: {exc}"[:2000]
                )
    return done


def accept_events(events: list[dict]):
    """The queued intake of validated events, in the caller's transaction: stored,
    queued and audited (``projection.store_pending``), a worker nudged after the
    commit when something new was stored. One ``IngestResult`` per event."""
    from lineage.projection import store_pending

    results = store_pending(events)
    if any(result.created for result in results):
        nudge()
    return results


def intake(events: list[dict]):
    """What the intake endpoints call for validated events, in the caller's
    transaction: ``accept_events`` when queued, else ``services.ingest_events``."""
    from lineage.services import ingest_events

    return accept_events(events) if queued() else ingest_events(events)


def intake_one(event: dict):
    """What ``POST /api/v1/lineage`` calls for one validated event, outside any
    transaction: queued on PostgreSQL, one statement that is its own transaction
    (``projection.store_pending_one``); otherwise ``intake`` in a transaction."""
    from lineage.projection import store_pending_one

    if queued():
        result = store_pending_one(event)
        if result is not None:
            if result.created:
                nudge()
            return result
    with transaction.atomic():
        return intake([event])[0]


def before_inline() -> None:
    """In queued mode, an inline ingest (the DVC import, the MLflow sync, the demo)
    takes the projector's lock and projects the queue first, so events are projected
    in the order they were stored."""
    if queued():
        _lock()
        project_pending()


def catch_up() -> None:
    """Project what is queued before a read or a decision that needs it (queued mode
    only; one query when the queue is empty)."""
    if queued() and PendingProjection.objects.filter(error="").exists():
        project_pending()


def caught_up(view):
    """A view (function, or a ModelAdmin's view method) that reads lineage: it first
    projects what is queued (``catch_up``), so the board never reads behind events
    already accepted."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        catch_up()
        return view(*args, **kwargs)

    return wrapped


def retry_failed() -> int:
    """Put failed events back in the queue (their error cleared); how many."""
    return PendingProjection.objects.exclude(error="").update(error="")


def projection_gauges() -> dict[str, float]:
    """Queued events, failed ones and the oldest queued event's wait in seconds (one
    query)."""
    waiting = Q(error="")
    found = PendingProjection.objects.aggregate(
        pending=Count("pk", filter=waiting),
        failed=Count("pk", filter=~waiting),
        oldest=Min("queued_at", filter=waiting),
    )
    oldest = found["oldest"]
    return {
        "pending": found["pending"],
        "failed": found["failed"],
        "lag": (timezone.now() - oldest).total_seconds() if oldest else 0.0,
    }
