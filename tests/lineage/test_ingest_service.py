"""ingest_event: what one OpenLineage event writes, idempotency, ordering by event time."""

import uuid

import pytest

from audit.models import AuditEvent
from lineage import graph
from lineage.choices import RunState
from lineage.models import (
    ColumnLineage,
    Dataset,
    DatasetVersion,
    Job,
    LineageEvent,
    Namespace,
    Run,
    RunInput,
    RunOutput,
)
from lineage.services import ingest_event
from tests.lineage.factories import dataset, facet, run_event, schema_facet

pytestmark = pytest.mark.django_db


def test_run_event_projects_namespaces_datasets_versions_runs_and_edges():
    event = run_event(
        inputs=[dataset("raw.loans", schema=schema_facet("id", "amount"))],
        outputs=[dataset("features.loans", version="md5:" + "a" * 32)],
    )
    result = ingest_event(event)

    assert result.created
    assert set(Namespace.objects.values_list("name", flat=True)) == {"pipelines", "warehouse"}
    assert Job.objects.get().name == "train_model"
    run = Run.objects.get()
    assert str(run.run_id) == event["run"]["runId"]
    assert run.state == RunState.COMPLETE
    out = DatasetVersion.objects.get(dataset__name="features.loans")
    assert out.version == "md5:" + "a" * 32
    assert out.content_hash == out.version
    assert out.producing_run == run
    raw_input = Dataset.objects.get(name="raw.loans")
    assert raw_input.facets["schema"]["fields"][0]["name"] == "id"
    assert RunInput.objects.get().dataset_version.dataset == raw_input
    assert RunOutput.objects.get().dataset_version == out
    stored = LineageEvent.objects.get()
    assert stored.body == event
    assert AuditEvent.objects.filter(action="lineage.ingest", object_id=str(stored.pk)).count() == 1


def test_the_same_event_twice_is_stored_once():
    event = run_event(outputs=[dataset("features.loans")])
    first = ingest_event(event)
    reordered = dict(reversed(list(event.items())))  # key order does not make a new event
    second = ingest_event(reordered)

    assert first.created and not second.created
    assert second.event.pk == first.event.pk
    assert LineageEvent.objects.count() == 1
    assert DatasetVersion.objects.count() == 1
    assert AuditEvent.objects.filter(action="lineage.ingest").count() == 1


def test_run_state_follows_event_time_not_arrival_order():
    run_id = str(uuid.uuid4())
    ingest_event(run_event("COMPLETE", run_id=run_id, minutes=10))
    ingest_event(run_event("START", run_id=run_id, minutes=0))
    ingest_event(run_event("RUNNING", run_id=run_id, minutes=5))

    run = Run.objects.get(run_id=run_id)
    assert run.state == RunState.COMPLETE
    assert run.started_at.minute == 0
    assert run.ended_at.minute == 10
    assert LineageEvent.objects.count() == 3


def test_without_version_facet_each_producing_run_makes_a_version_and_readers_follow():
    first = ingest_event(run_event(outputs=[dataset("features.loans")]))
    second = ingest_event(run_event(outputs=[dataset("features.loans")], minutes=60))
    reader = ingest_event(run_event(job="train", inputs=[dataset("features.loans")], minutes=90))

    versions = DatasetVersion.objects.filter(dataset__name="features.loans")
    assert versions.count() == 2
    assert {v.version for v in versions} == {str(first.run.run_id), str(second.run.run_id)}
    # An input without a version reads the latest version.
    assert reader.inputs[0].producing_run == second.run


def test_same_content_hash_is_the_same_version_whichever_run_saw_it():
    digest = "0123456789abcdef0123456789abcdef"
    ingest_event(run_event(outputs=[dataset("data/train.csv", version=f"md5:{digest}")]))
    ingest_event(run_event(job="other", inputs=[dataset("data/train.csv", version=digest)]))

    version = DatasetVersion.objects.get()
    assert version.version == f"md5:{digest}"
    assert version.consumers.count() == 1 and version.producers.count() == 1


def test_parent_run_and_column_lineage_are_kept():
    parent_id = str(uuid.uuid4())
    parent = facet(
        "ParentRunFacet",
        run={"runId": parent_id},
        job={"namespace": "airflow", "name": "daily_dag"},
    )
    lineage = facet(
        "ColumnLineageDatasetFacet",
        fields={
            "amount_eur": {
                "inputFields": [{"namespace": "warehouse", "name": "raw.loans", "field": "amount"}]
            }
        },
    )
    result = ingest_event(
        run_event(
            inputs=[dataset("raw.loans")],
            outputs=[dataset("features.loans", columnLineage=lineage)],
            run_facets={"parent": parent},
        )
    )
    assert str(result.run.parent.run_id) == parent_id
    assert result.run.parent.job.name == "daily_dag"
    edge = ColumnLineage.objects.get()
    assert (edge.input_dataset.name, edge.input_field, edge.output_field) == (
        "raw.loans",
        "amount",
        "amount_eur",
    )


def test_upstream_and_downstream_are_transitive():
    # raw -> [clean] -> features -> [train] -> model_input ; features -> [report] -> report
    clean = ingest_event(
        run_event(job="clean", inputs=[dataset("raw")], outputs=[dataset("features")])
    )
    train = ingest_event(
        run_event(
            job="train", inputs=[dataset("features")], outputs=[dataset("model_input")], minutes=5
        )
    )
    report = ingest_event(
        run_event(
            job="report", inputs=[dataset("features")], outputs=[dataset("report")], minutes=6
        )
    )
    upstream = graph.upstream_versions([train.run.pk])
    assert {v.dataset.name for v in upstream} == {"features", "raw"}

    raw_version = DatasetVersion.objects.get(dataset__name="raw")
    assert graph.downstream_run_ids([raw_version.pk]) == {clean.run.pk, train.run.pk, report.run.pk}
    assert graph.downstream_run_ids([raw_version.pk], depth=1) == {clean.run.pk}
    assert graph.upstream_versions([train.run.pk], depth=1)[0].dataset.name == "features"


def test_as_of_ignores_edges_recorded_later():
    first = ingest_event(
        run_event(job="clean", inputs=[dataset("raw")], outputs=[dataset("features")])
    )
    train = ingest_event(run_event(job="train", inputs=[dataset("features")], minutes=5))
    moment = RunInput.objects.order_by("-created_at").first().created_at
    late = ingest_event(
        run_event(job="clean", run_id=str(first.run.run_id), inputs=[dataset("late")], minutes=1)
    )
    RunInput.objects.filter(run=late.run, dataset_version__dataset__name="late").update(
        created_at=moment.replace(year=moment.year + 1)
    )

    now_names = {v.dataset.name for v in graph.upstream_versions([train.run.pk])}
    then_names = {v.dataset.name for v in graph.upstream_versions([train.run.pk], as_of=moment)}
    assert now_names == {"features", "raw", "late"}
    assert then_names == {"features", "raw"}


def test_walks_from_very_many_seeds_fit_parameter_limits():
    result = ingest_event(run_event(job="clean", inputs=[dataset("raw")], outputs=[dataset("f")]))
    reader = ingest_event(run_event(job="train", inputs=[dataset("f")], minutes=1))
    many_runs = [reader.run.pk, *range(10**6, 10**6 + 70000)]  # ids that mostly do not exist
    assert {v.dataset.name for v in graph.upstream_versions(many_runs)} == {"f", "raw"}
    version = result.inputs[0]
    many_versions = [version.pk, *range(10**6, 10**6 + 70000)]
    assert graph.downstream_run_ids(many_versions) == {result.run.pk, reader.run.pk}
