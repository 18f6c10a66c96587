"""Queued projection (GOVREG_LINEAGE_PROJECTION=queued): the intake stores, a projector
projects; nothing lost, nobody reads behind their own writes, the same graph as inline."""

import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from audit.models import AuditChainHead, AuditEvent
from lineage.choices import RunState
from lineage.models import (
    Dataset,
    DatasetVersion,
    LineageEvent,
    PendingProjection,
    Run,
    RunInput,
    RunOutput,
)
from lineage.queue import accept_events, project_pending, projection_gauges, retry_failed
from lineage.retention import purge_lineage_events
from lineage.services import event_hash
from tests.factories import UserFactory
from tests.lineage.factories import dataset, run_event, schema_facet

pytestmark = pytest.mark.django_db
URL = "/api/v1/lineage"
BATCH = "/api/v1/lineage/batch"


@pytest.fixture
def queued(settings):
    settings.GOVREG_LINEAGE_PROJECTION = "queued"


def test_the_intake_stores_queues_and_audits_without_projecting(
    queued, pipeline, django_capture_on_commit_callbacks
):
    event = run_event(outputs=[dataset("features")])
    with django_capture_on_commit_callbacks() as nudges:
        answer = pipeline.post(URL, event, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["stored"] is True
    stored = LineageEvent.objects.get()
    assert PendingProjection.objects.get().event == stored
    assert not Run.objects.exists()  # not projected yet
    assert AuditEvent.objects.filter(action="lineage.ingest", object_id=str(stored.pk)).exists()
    assert len(nudges) == 1  # a worker is asked once the request commits

    again = pipeline.post(URL, event, format="json")  # a retry: stored once, queued once
    assert again.json() == {**answer.json(), "stored": False}
    assert PendingProjection.objects.count() == 1

    assert project_pending() == 1
    assert Run.objects.get().state == RunState.COMPLETE
    assert not PendingProjection.objects.exists()
    assert AuditEvent.objects.filter(action="lineage.ingest").count() == 1


def test_a_request_nudges_the_worker_after_its_answer_once(
    queued, request, django_capture_on_commit_callbacks
):
    """The nudge waits for the answer to be written (request_finished), however many
    commits asked for it; outside a request it goes at commit. Celery is eager here, so
    the nudge projects at once and the queue shows when it was sent."""
    # as the test client does: the request's ends must not close the test's connection
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
        request.addfinalizer(lambda signal=signal: signal.connect(close_old_connections))
    request_started.send(sender=None)
    for n in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            accept_events([run_event(outputs=[dataset(f"out.{n}")])])
    assert PendingProjection.objects.count() == 2  # committed, not nudged yet
    request_finished.send(sender=None)
    assert not PendingProjection.objects.exists()
    assert Run.objects.count() == 2

    with django_capture_on_commit_callbacks(execute=True):  # a task or a command
        accept_events([run_event()])
    assert not PendingProjection.objects.exists()
    assert Run.objects.count() == 3


@pytest.fixture
def broker(monkeypatch, settings):
    """Celery as in production (not eager), the nudges it would carry recorded instead
    of sent, and this process's clock in the test's hands."""
    from celery import current_app

    from lineage import queue
    from lineage.tasks import project_pending_task

    settings.GOVREG_LINEAGE_PROJECTION_DELAY_MS = 250
    sent, clock = [], [1000.0]
    monkeypatch.setitem(current_app.conf, "task_always_eager", False)
    monkeypatch.setattr(queue, "_clock", lambda: clock[0])
    monkeypatch.setitem(queue._window, "ends", 0.0)
    monkeypatch.setattr(project_pending_task, "apply_async", lambda **kw: sent.append(kw))
    return sent, clock


def test_a_process_nudges_once_per_window_and_the_run_comes_after_it(broker):
    from lineage import queue

    sent, clock = broker
    queue._send_nudge()
    clock[0] += 0.1  # a commit inside the window: the run already asked starts after it
    queue._send_nudge()
    assert sent == [{"countdown": 0.25, "retry": False, "ignore_result": True}]
    clock[0] += 0.2  # past the window: a new nudge
    queue._send_nudge()
    assert len(sent) == 2


def test_a_nudge_the_broker_refused_is_tried_again_at_the_next_commit(broker, monkeypatch):
    from lineage import queue
    from lineage.tasks import project_pending_task

    sent, clock = broker

    def refuse(**kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(project_pending_task, "apply_async", refuse)
    queue._send_nudge()  # logged; beat would catch up
    monkeypatch.setattr(project_pending_task, "apply_async", lambda **kw: sent.append(kw))
    queue._send_nudge()  # same window, but nothing was sent in it
    assert len(sent) == 1


def test_a_single_event_is_one_statement_on_postgresql(queued, pipeline):
    if connection.vendor != "postgresql":
        pytest.skip("the intake's one-statement store is PostgreSQL's")
    pipeline.post(URL, run_event(), format="json")  # warm: token and statements built
    with CaptureQueriesContext(connection) as queries:
        answer = pipeline.post(URL, run_event(outputs=[dataset("x")]), format="json")
    assert answer.status_code == 201
    # the token, then the raw event with its queue row and its audit event in one
    # statement, its own transaction (the savepoints are the test's transaction)
    sent = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(sent) <= 2, [sql[:80] for sql in sent]
    stored = LineageEvent.objects.get(pk=answer.json()["id"])
    assert PendingProjection.objects.filter(event=stored).exists()
    audit = AuditEvent.objects.get(action="lineage.ingest", object_id=str(stored.pk))
    assert audit.after["bodyHash"] == stored.body_hash
    call_command("verify_audit", stdout=StringIO())  # its hash is the canonical one


def test_the_one_statement_store_appends_its_audit_event_without_a_chain_head(queued, pipeline):
    """A statement that inserts an event and appends its audit event cannot fall back
    to seeding the head afterwards: the database seeds it (from the last event)."""
    if connection.vendor != "postgresql":
        pytest.skip("the append functions are PostgreSQL's")
    pipeline.post(URL, run_event(), format="json")
    AuditChainHead.objects.all().delete()
    answer = pipeline.post(URL, run_event(outputs=[dataset("y")]), format="json")
    assert answer.status_code == 201, answer.content
    assert AuditEvent.objects.filter(
        action="lineage.ingest", object_id=str(answer.json()["id"])
    ).exists()
    assert AuditChainHead.objects.get().last_seq == AuditEvent.objects.count()
    call_command("verify_audit", stdout=StringIO())


def test_reads_project_what_is_queued_first(queued, pipeline):
    run_id = str(uuid.uuid4())
    pipeline.post(URL, run_event("START", run_id=run_id), format="json")
    pipeline.post(URL, run_event("COMPLETE", run_id=run_id, minutes=5), format="json")
    assert PendingProjection.objects.count() == 2
    answer = pipeline.get(f"/api/v1/jobs/runs/{run_id}")
    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "COMPLETED"
    assert not PendingProjection.objects.exists()


def test_a_batch_is_stored_and_queued_in_one_go(queued, pipeline):
    events = [run_event(outputs=[dataset(f"out.{n}")]) for n in range(5)]
    answer = pipeline.post(BATCH, [*events, events[0]], format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["summary"] == {
        "received": 6,
        "successful": 6,
        "failed": 0,
        "stored": 5,
        "duplicates": 1,
    }
    assert PendingProjection.objects.count() == 5
    assert project_pending(batch_size=2) == 5
    assert Run.objects.count() == 5
    assert RunOutput.objects.count() == 5


def _story(namespace: str, runs: dict) -> list[dict]:
    """Events arriving out of order: a run's START after its COMPLETE, a dataset's newer
    schema before an older one, an input read without a version (its latest)."""

    def rid(name):
        return runs.setdefault(name, str(uuid.uuid4()))

    raw = dataset("raw", namespace, version="md5:" + "a" * 32)
    return [
        run_event(
            "COMPLETE",
            run_id=rid("extract"),
            job="extract",
            namespace=namespace,
            outputs=[
                dataset("raw", namespace, version="md5:" + "a" * 32, schema=schema_facet("a", "b"))
            ],
            minutes=10,
        ),
        run_event("START", run_id=rid("extract"), job="extract", namespace=namespace),
        run_event(
            "COMPLETE",
            run_id=rid("old-extract"),
            job="extract",
            namespace=namespace,
            outputs=[
                dataset("raw", namespace, version="md5:" + "b" * 32, schema=schema_facet("a"))
            ],
            minutes=-30,
        ),
        run_event(
            "COMPLETE",
            run_id=rid("train"),
            job="train",
            namespace=namespace,
            inputs=[dataset("raw", namespace)],
            outputs=[dataset("model", namespace, version="sha256:" + "c" * 64)],
            minutes=20,
        ),
        run_event("RUNNING", run_id=rid("train"), job="train", namespace=namespace, minutes=15),
        run_event(
            "COMPLETE",
            run_id=rid("audit"),
            job="audit",
            namespace=namespace,
            inputs=[raw],
            minutes=25,
        ),
    ]


def _graph(namespace: str) -> dict:
    runs = Run.objects.filter(job__namespace__name=namespace)
    return {
        "runs": sorted(
            (r.job.name, r.state, str(r.started_at), str(r.ended_at))
            for r in runs.select_related("job")
        ),
        "datasets": sorted(
            (d.name, d.current_version.version if d.current_version else None, str(d.facets))
            for d in Dataset.objects.filter(namespace__name=namespace).select_related(
                "current_version"
            )
        ),
        "versions": sorted(
            (v.dataset.name, v.version, v.producing_run.job.name if v.producing_run else None)
            for v in DatasetVersion.objects.filter(
                dataset__namespace__name=namespace
            ).select_related("dataset", "producing_run__job")
        ),
        "reads": sorted(
            (e.run.job.name, e.dataset_version.dataset.name, e.dataset_version.version)
            for e in RunInput.objects.filter(run__in=runs).select_related(
                "run__job", "dataset_version__dataset"
            )
        ),
        "writes": sorted(
            (e.run.job.name, e.dataset_version.dataset.name, e.dataset_version.version)
            for e in RunOutput.objects.filter(run__in=runs).select_related(
                "run__job", "dataset_version__dataset"
            )
        ),
    }


def test_queued_projection_builds_the_graph_inline_projection_builds(settings, pipeline):
    for event in _story("inline", {}):
        assert pipeline.post(URL, event, format="json").status_code == 201
    settings.GOVREG_LINEAGE_PROJECTION = "queued"
    for event in _story("queued", {}):
        assert pipeline.post(URL, event, format="json").status_code == 201
    assert PendingProjection.objects.count() == 6
    assert project_pending(batch_size=4) == 6  # two transactions
    inline, queued_graph = _graph("inline"), _graph("queued")
    assert inline["runs"]  # the story made a graph
    assert queued_graph == inline
    assert len(inline["reads"]) == 2


def test_an_event_failing_alone_is_kept_with_its_error_and_holds_up_nothing(queued, pipeline):
    good = run_event(outputs=[dataset("fine")])
    pipeline.post(URL, good, format="json")
    # a stored body the projection cannot read (no job): as if written by an older release
    poison = LineageEvent.objects.create(
        body={"eventType": "COMPLETE", "eventTime": "2026-01-05T09:00:00+00:00"},
        body_hash="f" * 64,
        event_time="2026-01-05T09:00:00+00:00",
    )
    PendingProjection.objects.create(event=poison)
    later = run_event(outputs=[dataset("also-fine")], minutes=1)
    pipeline.post(URL, later, format="json")

    assert project_pending() == 2
    assert Run.objects.count() == 2
    failed = PendingProjection.objects.get()
    assert failed.event_id == poison.pk
    assert "KeyError" in failed.error
    assert projection_gauges()["failed"] == 1
    assert projection_gauges()["pending"] == 0
    assert project_pending() == 0  # a failed event is not tried again on its own

    assert retry_failed() == 1
    assert projection_gauges()["pending"] == 1
    assert project_pending() == 0  # still failing: kept again, with its error
    assert PendingProjection.objects.get().error


def test_retention_never_purges_a_queued_event(queued, pipeline):
    pipeline.post(URL, run_event(outputs=[dataset("old")]), format="json")  # 2026-01-05
    purged = purge_lineage_events(days=1)
    assert purged.deleted == 0
    assert PendingProjection.objects.count() == 1
    project_pending()
    assert purge_lineage_events(days=1).deleted == 1


def test_the_queue_is_on_metrics(queued, pipeline, settings):
    settings.GOVREG_METRICS_TOKEN = ""
    pipeline.post(URL, run_event(), format="json")
    text = pipeline.get("/metrics").content.decode()
    assert "govreg_lineage_projection_pending 1.0" in text
    assert "govreg_lineage_projection_failed 0.0" in text
    lag = next(
        line for line in text.splitlines() if line.startswith("govreg_lineage_projection_lag")
    )
    assert float(lag.split()[1]) >= 0


def test_the_boards_lineage_pages_project_what_is_queued_first(queued, pipeline, team):
    run_id = str(uuid.uuid4())
    pipeline.post(URL, run_event("COMPLETE", run_id=run_id, outputs=[dataset("o")]), format="json")
    assert PendingProjection.objects.exists()
    board = Client()
    board.force_login(UserFactory(username="erin", groups=[team, Role.ML_ENGINEER]))
    answer = board.get(reverse("ui-lineage-graph-json"), {"nodeId": f"run:{run_id}"})
    assert answer.status_code == 200, answer.content
    assert not PendingProjection.objects.exists()
    body = answer.json()
    assert run_id in body["root"]
    assert body["counts"]["runs"] == 1


def test_the_lineage_admin_projects_what_is_queued_first(queued, pipeline, client):
    run_id = str(uuid.uuid4())
    pipeline.post(URL, run_event("COMPLETE", run_id=run_id), format="json")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    answer = client.get("/admin/lineage/run/", secure=True)
    assert answer.status_code == 200
    assert not PendingProjection.objects.exists()
    assert run_id in answer.content.decode()


def _numbers_event():
    event = run_event(outputs=[dataset("features")])
    event["run"]["facets"]["numbers"] = {
        "_producer": "https://example.com/p",
        "_schemaURL": "https://example.com/s",
        "values": [1.5, 1e16, 5e-324, -0.0, 12345678901234567890123, 7],
        "text": "\u00e9\U0001f600",
    }
    return event


def test_a_queued_batch_stores_each_body_as_sent_floats_and_big_integers_too(queued, pipeline):
    event = _numbers_event()
    answer = pipeline.post(BATCH, [event, run_event()], format="json")
    assert answer.json()["summary"]["stored"] == 2
    stored = LineageEvent.objects.get(body_hash=event_hash(event))
    assert stored.body == event


def test_a_queued_single_event_stores_its_body_as_sent_floats_and_big_integers_too(
    queued, pipeline
):
    # one statement on PostgreSQL (store_pending_one), the ORM's path elsewhere
    event = _numbers_event()
    answer = pipeline.post(URL, event, format="json")
    assert answer.status_code == 201, answer.json()
    stored = LineageEvent.objects.get(pk=answer.json()["id"])
    assert stored.body_hash == event_hash(event)
    assert stored.body == event
