"""Concurrent writers on PostgreSQL: the unique constraints decide, nobody fails."""

import threading
import uuid

import pytest
from django.db import connection, transaction

from lineage.models import Dataset, DatasetVersion, LineageEvent, Run
from lineage.services import ingest_event
from tests.lineage.factories import dataset, run_event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_parallel(events):
    barrier = threading.Barrier(len(events))
    results, errors = [], []

    def work(event):
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                results.append(ingest_event(event).created)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_the_same_event_posted_by_six_retries_at_once_is_stored_once():
    event = run_event(outputs=[dataset("features", version="md5:" + "e" * 32)])
    results, errors = in_parallel([event] * 6)
    assert errors == []
    assert sorted(results) == [False] * 5 + [True]
    assert LineageEvent.objects.count() == 1
    assert Run.objects.count() == 1


def test_distinct_events_creating_the_same_datasets_at_once_all_succeed():
    run_id = str(uuid.uuid4())
    events = [
        run_event(
            "START" if i % 2 else "COMPLETE",
            run_id=run_id,
            minutes=i,
            inputs=[dataset("raw.shared")],
            outputs=[dataset("features.shared", version="md5:" + "f" * 32)],
        )
        for i in range(6)
    ]
    results, errors = in_parallel(events)
    assert errors == []
    assert results == [True] * 6
    assert Dataset.objects.filter(name__endswith=".shared").count() == 2
    assert DatasetVersion.objects.filter(dataset__name="features.shared").count() == 1
    # the latest event (minute 5) is a START, but a terminal state stays terminal: the
    # COMPLETE of minute 4 holds, whatever order the six writers committed in
    assert Run.objects.get(run_id=run_id).state == "COMPLETE"


def test_the_same_single_event_sent_by_six_emitters_at_once_is_stored_and_audited_once(
    settings,
):
    """The queued intake's one-statement store (no transaction of the caller's): the
    unique body hash decides, the losers answer "already stored", one audit event."""
    from django.core.management import call_command

    from audit.models import AuditEvent
    from lineage.models import PendingProjection
    from lineage.queue import intake_one

    settings.GOVREG_LINEAGE_PROJECTION = "queued"
    event = run_event(outputs=[dataset("features", version="md5:" + "d" * 32)])
    intake_one(run_event())  # warm: the chain head exists, the statements are built
    barrier = threading.Barrier(6)
    results, errors = [], []

    def work():
        try:
            barrier.wait(timeout=10)
            result = intake_one(event)
            results.append((result.created, result.event.pk))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(created for created, _ in results) == [False] * 5 + [True]
    stored = LineageEvent.objects.exclude(pk=LineageEvent.objects.order_by("pk")[0].pk).get()
    assert {pk for _, pk in results} == {stored.pk}
    # queued once and projected once (the embedded default's nudge runs eagerly)
    assert not PendingProjection.objects.exists()
    assert Run.objects.filter(run_id=event["run"]["runId"]).count() == 1
    assert AuditEvent.objects.filter(action="lineage.ingest", object_id=str(stored.pk)).count() == 1
    call_command("verify_audit")
