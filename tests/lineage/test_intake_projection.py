"""A batch is projected as one set: the same records as ingesting its events one by one,
in a number of queries that does not grow with the batch."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from lineage.models import (
    ColumnLineage,
    Dataset,
    DatasetSymlink,
    DatasetVersion,
    Job,
    JobDataset,
    JobVersion,
    LineageEvent,
    Namespace,
    Run,
    RunInput,
    RunOutput,
)
from lineage.services import ingest_event, ingest_events
from tests.lineage.factories import dataset, facet, run_event, schema_facet

pytestmark = pytest.mark.django_db

DATASET_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"
JOB_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"


def _dataset_event(name, minutes, **facets):
    event = run_event(minutes=minutes)
    return {
        "eventTime": event["eventTime"],
        "producer": event["producer"],
        "schemaURL": DATASET_EVENT,
        "dataset": {"namespace": "warehouse", "name": name, "facets": facets},
    }


def _job_event(name, minutes, inputs=(), outputs=()):
    event = run_event(minutes=minutes)
    return {
        "eventTime": event["eventTime"],
        "producer": event["producer"],
        "schemaURL": JOB_EVENT,
        "job": {"namespace": "pipelines", "name": name, "facets": {}},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }


def story() -> list[dict]:
    """Events of every kind, out of order, sharing runs, datasets and versions."""
    train, parent, late = (str(uuid.uuid4()) for _ in range(3))
    parent_facet = facet(
        "ParentRunFacet",
        run={"runId": parent},
        job={"namespace": "pipelines", "name": "dag"},
    )
    columns = facet(
        "ColumnLineageDatasetFacet",
        fields={
            "score": {
                "inputFields": [{"namespace": "warehouse", "name": "raw", "field": "amount"}],
                "transformationType": "AGGREGATION",
            }
        },
    )
    links = facet(
        "SymlinksDatasetFacet",
        identifiers=[{"namespace": "hive://meta", "name": "db.raw", "type": "TABLE"}],
    )
    drop = facet("LifecycleStateChangeDatasetFacet", lifecycleStateChange="DROP")
    clean = run_event(
        job="clean",
        inputs=[dataset("raw", schema=schema_facet("id", "amount"), symlinks=links)],
        outputs=[dataset("clean", schema=schema_facet("id"))],
        minutes=1,
    )
    return [
        run_event(
            "START", run_id=train, job="train", minutes=10, run_facets={"parent": parent_facet}
        ),
        clean,
        # reads "clean" without a version: the version the cleaning run just wrote
        run_event(
            "COMPLETE",
            run_id=train,
            job="train",
            minutes=20,
            inputs=[dataset("clean")],
            outputs=[dataset("model", version="md5:" + "a" * 32, columnLineage=columns)],
            run_facets={"parent": parent_facet},
        ),
        run_event("RUNNING", run_id=train, job="train", minutes=30),  # after the end: stays
        run_event("START", run_id=parent, job="dag", minutes=0),
        clean,  # a replay inside the batch
        # first read with a version, then written: the version gets its producer
        run_event("COMPLETE", job="report", inputs=[dataset("scores", version="s1")], minutes=40),
        run_event("COMPLETE", job="score", outputs=[dataset("scores", version="s1")], minutes=41),
        # an older event arriving last only fills gaps; a DROP that happened first loses
        _dataset_event("clean", 50, schema=schema_facet("id", "amount", "flag")),
        _dataset_event("clean", 5, schema=schema_facet("old"), lifecycleStateChange=drop),
        _dataset_event(
            "events", 6, version=facet("DatasetVersionDatasetFacet", datasetVersion="e1")
        ),
        _job_event("etl", 8, inputs=[dataset("raw")], outputs=[dataset("clean")]),
        _job_event("etl", 7, inputs=[dataset("stale")]),  # older: does not decide
        run_event("FAIL", run_id=late, job="train", minutes=58, inputs=[dataset("raw")]),
        run_event("COMPLETE", run_id=late, job="train", minutes=55),  # an earlier end
        run_event("COMPLETE", run_id=parent, job="dag", minutes=70),
        run_event("START", job="initial", inputs=[dataset("never-written")], minutes=3),
    ]


def snapshot() -> dict:
    def ds(row):
        return (row.namespace.name, row.name)

    return {
        "events": sorted(LineageEvent.objects.values_list("body_hash", "kind", "event_type")),
        "namespaces": sorted(Namespace.objects.values_list("name", "deleted_at")),
        "datasets": sorted(
            (
                ds(d),
                d.facets,
                d.lifecycle_state,
                d.last_event_time,
                d.current_version.version if d.current_version else None,
                d.current_version_time,
            )
            for d in Dataset.objects.select_related("namespace", "current_version")
        ),
        "versions": sorted(
            (
                ds(v.dataset),
                v.version,
                v.content_hash,
                str(v.producing_run.run_id) if v.producing_run else None,
                v.facets,
                v.lifecycle_state,
            )
            for v in DatasetVersion.objects.select_related("dataset__namespace", "producing_run")
        ),
        "jobs": sorted(
            (
                ds(j),
                j.facets,
                j.declared_time,
                str(j.current_version.version) if j.current_version else None,
            )
            for j in Job.objects.select_related("namespace", "current_version")
        ),
        "runs": sorted(
            (
                str(r.run_id),
                r.source_run_id,
                ds(r.job),
                r.state,
                r.started_at,
                r.ended_at,
                r.last_event_time,
                r.facets,
                str(r.parent.run_id) if r.parent else None,
                str(r.job_version.version) if r.job_version else None,
            )
            for r in Run.objects.select_related("job__namespace", "parent", "job_version")
        ),
        "edges": sorted(
            (
                model.__name__,
                str(e.run.run_id),
                ds(e.dataset_version.dataset),
                e.dataset_version.version,
                e.facets,
            )
            for model in (RunInput, RunOutput)
            for e in model.objects.select_related("run", "dataset_version__dataset__namespace")
        ),
        "columns": sorted(
            (c.output_field, ds(c.input_dataset), c.input_field, c.transformations)
            for c in ColumnLineage.objects.select_related("input_dataset__namespace")
        ),
        "symlinks": sorted(
            (ds(s.dataset), s.namespace, s.name, s.type)
            for s in DatasetSymlink.objects.select_related("dataset__namespace")
        ),
        "declared": sorted(
            (ds(j.job), ds(j.dataset), j.direction)
            for j in JobDataset.objects.select_related("job__namespace", "dataset__namespace")
        ),
        "job_versions": sorted(
            (ds(v.job), str(v.version), v.location, v.inputs, v.outputs)
            for v in JobVersion.objects.select_related("job__namespace")
        ),
        "audited": AuditEvent.objects.filter(action="lineage.ingest").count(),
    }


def wipe() -> None:
    Run.objects.update(parent=None, job_version=None)
    Dataset.objects.update(current_version=None)
    Job.objects.update(current_version=None)
    for model in (
        ColumnLineage,
        RunInput,
        RunOutput,
        DatasetSymlink,
        JobDataset,
        DatasetVersion,
        Run,
        JobVersion,
        Job,
        Dataset,
        Namespace,
        LineageEvent,
    ):
        model.objects.all().delete()


def test_a_batch_projects_what_the_events_one_by_one_project():
    events = story()
    for event in events:
        ingest_event(event)
    one_by_one = snapshot()
    before = one_by_one.pop("audited")
    wipe()
    results = ingest_events(events)
    batch = snapshot()
    assert batch.pop("audited") - before == len(events) - 1  # the replay is not audited
    assert batch == one_by_one
    assert [r.created for r in results] == [True] * 5 + [False] + [True] * 11


def test_the_batch_story_reads_right():
    """The story's facts, so the comparison above is not of two equal mistakes."""
    ingest_events(story())
    train = Run.objects.get(job__name="train", state="COMPLETE")
    assert train.parent.job.name == "dag"
    assert train.parent.state == "COMPLETE"
    assert train.ended_at.minute == 20  # the late RUNNING does not reopen it
    clean_version = RunOutput.objects.get(run__job__name="clean").dataset_version
    assert RunInput.objects.get(run=train).dataset_version == clean_version
    assert DatasetVersion.objects.get(version="s1").producing_run.job.name == "score"
    clean = Dataset.objects.get(name="clean")
    assert [f["name"] for f in clean.facets["schema"]["fields"]] == ["id", "amount", "flag"]
    assert clean.lifecycle_state == ""
    assert Dataset.objects.get(name="events").current_version.version == "e1"
    declared = JobDataset.objects.filter(job__name="etl")
    assert sorted(d.dataset.name for d in declared) == ["clean", "raw"]
    assert Run.objects.get(state="FAIL").ended_at.minute == 58
    assert DatasetVersion.objects.get(dataset__name="never-written").version == "initial"
    assert ColumnLineage.objects.get().input_dataset.name == "raw"
    assert DatasetSymlink.objects.get().name == "db.raw"


def test_a_batch_replayed_changes_nothing():
    events = story()
    ingest_events(events)
    first = snapshot()
    results = ingest_events(events)
    assert not any(r.created for r in results)
    assert snapshot() == first


def _events(n: int, start: int = 0) -> list[dict]:
    return [
        run_event(
            job=f"etl_{i % 7}",
            inputs=[dataset(f"raw_{i % 11}", schema=schema_facet("id")), dataset("shared")],
            outputs=[dataset(f"out_{i}", version=f"v{i}"), dataset(f"daily_{i % 5}")],
            minutes=i,
        )
        for i in range(start, start + n)
    ]


def test_the_queries_of_a_batch_do_not_grow_with_its_size():
    ingest_events(_events(5))  # namespaces, jobs and the shared datasets exist
    counts = {}
    for size, start in ((10, 100), (100, 200)):
        with CaptureQueriesContext(connection) as queries:
            results = ingest_events(_events(size, start))
        assert all(r.created for r in results)
        counts[size] = len(queries)
    # the same statements (SQLite splits a long multi-row statement in two or three)
    assert counts[100] <= counts[10] + 3, counts
    assert counts[100] <= 25, counts
