"""Queued projection across real processes on PostgreSQL: a projector killed mid-batch
loses nothing, and a real Celery worker projects what the intake queued."""

import signal
import subprocess
import sys
import uuid

import psycopg
import pytest
from django.db import connection, transaction

from lineage.models import LineageEvent, PendingProjection, Run, RunOutput
from lineage.projection import store_pending
from lineage.queue import project_pending
from lineage.tasks import project_pending_task
from tests.faults.private_services import wait_until
from tests.lineage.factories import dataset, run_event
from tests.utils import manage_env

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/lineage"


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL on PostgreSQL (see .ci/run)")


def _dsn() -> str:
    settings = connection.settings_dict
    host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    return f"postgresql://{settings['USER'] or 'postgres'}@{host}:{port}/{settings['NAME']}"


def test_a_projector_killed_mid_batch_loses_nothing(postgresql):
    events = [run_event(outputs=[dataset(f"killed.{n}")]) for n in range(20)]
    with transaction.atomic():  # the queued intake's store, without its nudge
        store_pending(events)
    assert PendingProjection.objects.count() == 20

    # Hold the run table so the projector stops inside its transaction, after its claim.
    blocker = psycopg.connect(_dsn())
    # pg_stat_activity is read once per transaction: the watcher reads it in autocommit
    watcher = psycopg.connect(_dsn(), autocommit=True)
    blocker.execute("LOCK TABLE lineage_run IN ACCESS EXCLUSIVE MODE")
    projector = subprocess.Popen(
        [sys.executable, "manage.py", "project_lineage"],
        env=manage_env(GOVREG_LINEAGE_PROJECTION="queued"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        waiting = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> %s"
        )

        def blocked():
            assert projector.poll() is None, projector.communicate()
            return watcher.execute(waiting, [blocker.info.backend_pid]).fetchall()

        [(backend,)] = wait_until(blocked, timeout=120, what="the projector to block")
        claimed = watcher.execute(
            "SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'advisory'", [backend]
        ).fetchone()[0]
        assert claimed == 1  # it holds the projector's lock: mid-projection
        projector.send_signal(signal.SIGKILL)
        projector.wait(timeout=60)
    finally:
        blocker.rollback()  # the killed projector's statement goes on, then its session ends
        blocker.close()
    # The dead session's transaction rolled back: every event is still queued.
    gone = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
    with watcher:
        wait_until(
            lambda: watcher.execute(gone, [backend]).fetchone()[0] == 0,
            timeout=120,
            what="the killed projector's session to end",
        )
    assert PendingProjection.objects.count() == 20
    assert not Run.objects.exists()

    assert project_pending() == 20  # the next projector takes the whole queue
    assert Run.objects.count() == 20
    assert RunOutput.objects.count() == 20
    assert not PendingProjection.objects.exists()
    assert LineageEvent.objects.count() == 20


def test_a_real_worker_projects_the_queue_and_reads_never_lag(real_worker, live_server, pipeline):
    from openlineage.client import OpenLineageClient
    from openlineage.client import event_v2 as ol
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    transport = HttpTransport(
        HttpConfig.from_dict(
            {
                "type": "http",
                "url": live_server.url,
                "endpoint": "api/v1/lineage",
                "auth": {"type": "api_key", "apiKey": pipeline.token},
            }
        )
    )
    client = OpenLineageClient(transport=transport)
    run_ids = [str(uuid.uuid4()) for _ in range(5)]
    for index, run_id in enumerate(run_ids):
        client.emit(
            ol.RunEvent(
                eventType=ol.RunState.COMPLETE,
                eventTime=f"2026-12-01T10:0{index}:00Z",
                producer="https://example.com/queued",
                run=ol.Run(runId=run_id),
                job=ol.Job(namespace="queued", name=f"job.{index}"),
                outputs=[ol.OutputDataset(namespace="queued", name=f"out.{index}")],
            )
        )
    # a read right after the writes sees them, whether or not the worker got there first
    answer = pipeline.get(f"/api/v1/jobs/runs/{run_ids[-1]}")
    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "COMPLETED"
    # the worker process drains whatever is left, and the queue ends empty
    project_pending_task.delay().get(timeout=60)
    assert not PendingProjection.objects.exists()
    assert set(
        str(r)
        for r in Run.objects.filter(job__namespace__name="queued").values_list("run_id", flat=True)
    ) == set(run_ids)
