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
