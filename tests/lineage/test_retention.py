"""Retention of raw lineage events (issue 14, "Also"): old raw events are purged in
bounded batches; projections, and the events of runs that governance records refer
to (a registered model version's training run and its provenance, a dataset version
a record names), survive; each purge that deleted something is one audit event."""

import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from lineage.choices import RunState
from lineage.models import DatasetVersion, LineageEvent, Run, RunOutput
from lineage.retention import evidence_run_ids, purge_lineage_events
from lineage.services import ingest_event
from lineage.tasks import purge_events_task
from registry import services as registry_services
from registry.models import ImpactNotification
from tests.factories import TeamFactory
from tests.lineage.factories import BASE_TIME, dataset, facet, run_event

pytestmark = pytest.mark.django_db

OLD = BASE_TIME  # months before the tests run: older than any retention used here


def emit(*events) -> list[str]:
    for event in events:
        ingest_event(event)
    return [e["run"]["runId"] for e in events if "run" in e]


def events_of(run_id: str) -> int:
    return LineageEvent.objects.filter(run_id=uuid.UUID(run_id)).count()


@pytest.fixture
def estate():
    """A scheduler run whose task runs extract features (from a table another run
    ingested) and train a model (registered), a run writing a dataset a notice names,
    and unrelated old runs: 13 old events, 7 of them of no evidence run."""
    dag = str(uuid.uuid4())
    parent = {
        "parent": facet(
            "ParentRunFacet",
            run={"runId": dag},
            job={"namespace": "pipelines", "name": "credit_dag"},
        )
    }
    raw = dataset("raw/loans", version="md5:" + "1" * 32)
    features = dataset("features/loans", version="md5:" + "2" * 32)
    extract, train, ingest = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    emit(
        run_event("COMPLETE", run_id=ingest, job="ingest_loans", at=OLD, outputs=[raw]),
        run_event("START", run_id=dag, job="credit_dag", at=OLD),
        run_event("START", run_id=extract, job="extract", at=OLD, minutes=1,
                  inputs=[raw], outputs=[features], run_facets=parent),
        run_event("COMPLETE", run_id=extract, job="extract", at=OLD, minutes=2,
                  inputs=[raw], outputs=[features], run_facets=parent),
        run_event("COMPLETE", run_id=train, job="train", at=OLD, minutes=3, inputs=[features],
                  outputs=[dataset("models/loan-default")], run_facets=parent),
    )  # fmt: skip
    noticed = str(uuid.uuid4())
    emit(
        run_event("COMPLETE", run_id=noticed, job="bureau_import", at=OLD,
                  outputs=[dataset("bureau/scores", version="md5:" + "3" * 32)]),
    )  # fmt: skip
    unrelated = [str(uuid.uuid4()) for _ in range(3)]
    for index, run_id in enumerate(unrelated):
        emit(
            run_event("START", run_id=run_id, job=f"report_{index}", at=OLD),
            run_event("COMPLETE", run_id=run_id, job=f"report_{index}", at=OLD, minutes=5,
                      outputs=[dataset(f"reports/r{index}")]),
        )  # fmt: skip
    ingest_event(
        {
            "eventTime": OLD.isoformat(),
            "producer": "https://example.com/catalog",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
            "dataset": dataset("reference/countries"),
        }
    )
    team = TeamFactory(name="credit-risk")
    model = registry_services.register_model(
        name="loan-default", team=team, risk_tier="high", description="Loan default"
    )
    registry_services.register_version(
        model=model,
        version="1",
        artifact_uri="s3://models/loan-default/1",
        artifact_digest="sha256:" + "ab" * 32,
        training_run=Run.objects.get(run_id=train),
    )
    ImpactNotification.objects.create(
        dataset_version=DatasetVersion.objects.get(dataset__name="bureau/scores"),
        status="quarantined",
        team=team,
    )
    return {
        "dag": dag,
        "ingest": ingest,
        "extract": extract,
        "train": train,
        "noticed": noticed,
        "unrelated": unrelated,
    }


def test_old_events_go_and_evidence_and_projections_stay(estate):
    evidence = ["dag", "ingest", "extract", "train", "noticed"]
    before = {name: events_of(estate[name]) for name in evidence}
    assert all(before.values())
    runs, outputs = Run.objects.count(), RunOutput.objects.count()

    result = purge_lineage_events(days=30)

    # the unrelated runs' events (2 each) and the DatasetEvent are gone
    assert result.deleted == 7
    assert all(events_of(run_id) == 0 for run_id in estate["unrelated"])
    assert not LineageEvent.objects.filter(kind="DATASET").exists()
    # the training run, its parent and siblings, the writer of what they read (upstream,
    # outside the family), the noticed version's writer: every event kept
    assert {name: events_of(estate[name]) for name in evidence} == before
    assert result.kept == sum(before.values())
    # projections untouched: runs, edges, the unrelated runs' datasets
    assert (Run.objects.count(), RunOutput.objects.count()) == (runs, outputs)
    assert Run.objects.get(run_id=estate["unrelated"][0]).state == RunState.COMPLETE
    assert DatasetVersion.objects.filter(dataset__name="reports/r0").exists()


def test_one_audit_event_per_purge_with_the_counts(estate):
    result = purge_lineage_events(days=30)
    purge = AuditEvent.objects.get(action="lineage.events.purge")
    assert purge.object_type == "lineage.lineageevent"
    assert purge.after["deleted"] == result.deleted == 7
    assert purge.after["kept"] == result.kept
    assert purge.after["retention_days"] == 30
    assert purge.after["cutoff"] == result.cutoff.isoformat()


def test_a_second_purge_deletes_nothing_and_is_not_audited(estate):
    purge_lineage_events(days=30)
    left = LineageEvent.objects.count()
    again = purge_lineage_events(days=30)
    assert again.deleted == 0
    assert LineageEvent.objects.count() == left
    assert AuditEvent.objects.filter(action="lineage.events.purge").count() == 1


def test_recent_events_are_kept(estate):
    recent = str(uuid.uuid4())
    emit(run_event("COMPLETE", run_id=recent, job="fresh", at=timezone.now() - timedelta(days=2)))
    purge_lineage_events(days=30)
    assert events_of(recent) == 1


def test_retention_off_keeps_everything(estate, settings):
    settings.GOVREG_LINEAGE_EVENT_RETENTION_DAYS = 0
    count = LineageEvent.objects.count()
    result = purge_lineage_events()
    assert (result.deleted, result.batches, result.cutoff) == (0, 0, None)
    assert LineageEvent.objects.count() == count
    assert not AuditEvent.objects.filter(action="lineage.events.purge").exists()


def test_the_evidence_runs_follow_the_provenance_upstream(estate):
    found = set(Run.objects.filter(pk__in=evidence_run_ids()).values_list("run_id", flat=True))
    wanted = {uuid.UUID(estate[n]) for n in ("dag", "ingest", "extract", "train", "noticed")}
    assert found == wanted


def test_batches_are_bounded(estate):
    """Batches of 2: the 7 purgeable events among 13 old ones take 7 keyset reads of at
    most 2 rows, and no DELETE names more than 2 rows."""
    with CaptureQueriesContext(connection) as queries:
        result = purge_lineage_events(days=30, batch_size=2)
    deletes = [
        q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "lineage_lineageevent"')
    ]
    assert result.deleted == 7
    assert result.batches == 7  # 13 old events, 2 per batch
    assert 4 <= len(deletes) <= result.batches
    for sql in deletes:
        assert sql.count(",") <= 1  # IN (a, b) at most
    reads = [q for q in queries if 'FROM "lineage_lineageevent"' in q["sql"]]
    assert all("LIMIT 2" in q["sql"] for q in reads if q["sql"].startswith("SELECT"))


def test_max_batches_stops_early_and_says_so(estate):
    result = purge_lineage_events(days=30, batch_size=1, max_batches=3)
    assert result.batches == 3
    assert not result.finished
    rest = purge_lineage_events(days=30, batch_size=100)
    assert result.deleted + rest.deleted == 7
    assert rest.finished


def test_the_beat_task_purges_with_the_setting(estate, settings):
    settings.GOVREG_LINEAGE_EVENT_RETENTION_DAYS = 30
    settings.GOVREG_LINEAGE_PURGE_BATCH = 4
    answer = purge_events_task.delay().get()
    assert answer["deleted"] == 7
    assert answer["batches"] == 4  # 13 old events, 4 per batch
    purge = AuditEvent.objects.get(action="lineage.events.purge")
    assert purge.actor_username == "lineage.purge_events"
    assert "lineage-purge-events" in settings.CELERY_BEAT_SCHEDULE


def test_the_command_purges_and_reports(estate, capsys):
    call_command("purge_lineage_events", "--days", "30", "--batch-size", "5")
    out = capsys.readouterr().out
    assert "purged 7 events" in out
    assert "in 3 batches" in out
    assert AuditEvent.objects.get(action="lineage.events.purge").after["deleted"] == 7


def test_the_command_refuses_a_bad_number(db):
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("purge_lineage_events", "--days", "30", "--batch-size", "0")
