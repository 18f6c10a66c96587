"""Marquez's reader side: run ids and states, dataset state by event time, every event
kind, column lineage, symlinks, names holding route words, and the v1 endpoints the
Marquez UI and clients call (sources, versions, runs, tags, stats, soft deletes)."""

from datetime import timedelta
from urllib.parse import quote

import pytest

from accounts.roles import Role
from audit.models import AuditEvent
from lineage.models import Dataset, Job, Run
from lineage.services import ingest_event, run_uuid
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.lineage.factories import BASE_TIME, PRODUCER, dataset, facet, run_event, schema_facet

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def ok(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.content[:500])
    return response.json()


def dataset_event(name, *, namespace="warehouse", minutes=0, **facets):
    return {
        "eventTime": (BASE_TIME + timedelta(minutes=minutes)).isoformat(),
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        "dataset": {"namespace": namespace, "name": name, "facets": facets},
    }


def job_event(name, *, inputs=(), outputs=(), minutes=0, namespace="pipelines"):
    return {
        "eventTime": (BASE_TIME + timedelta(minutes=minutes)).isoformat(),
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
        "job": {"namespace": namespace, "name": name, "facets": {}},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }


def lifecycle(state):
    return facet("LifecycleStateChangeDatasetFacet", lifecycleStateChange=state)


# --- 1. run ids --------------------------------------------------------------------------


def test_a_run_id_that_is_not_a_uuid_gets_marquezs_name_based_uuid(pipeline):
    # Java's UUID.nameUUIDFromBytes("12345".getBytes()), as Marquez computes it
    assert str(run_uuid("12345")) == "827ccb0e-ea8a-306c-8c34-a16891f84e7b"
    event = run_event(run_id="12345", outputs=[dataset("out")])
    assert pipeline.post(f"{V1}/lineage", event, format="json").status_code == 201
    run = Run.objects.get()
    assert str(run.run_id) == "827ccb0e-ea8a-306c-8c34-a16891f84e7b"
    assert run.source_run_id == "12345"
    for ref in ("12345", str(run.run_id)):
        body = ok(pipeline, f"{V1}/jobs/runs/{ref}")
        assert body["id"] == str(run.run_id)
        assert body["sourceRunId"] == "12345"
    # a canonical UUID stays itself, in any case
    upper = "A0B1C2D3-E4F5-4678-9ABC-DEF012345678"
    assert str(run_uuid(upper)) == upper.lower()


# --- 2. run states -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "state"),
    [("START", "RUNNING"), ("RUNNING", "RUNNING"), ("COMPLETE", "COMPLETED"),
     ("FAIL", "FAILED"), ("ABORT", "ABORTED"), ("OTHER", "NEW")],
)  # fmt: skip
def test_run_states_have_marquezs_names(pipeline, event_type, state):
    ingest_event(run_event(event_type, run_id="r-1"))
    assert ok(pipeline, f"{V1}/jobs/runs/r-1")["state"] == state


def test_a_late_running_after_complete_does_not_reopen_the_run(pipeline):
    ingest_event(run_event("START", run_id="r-2", minutes=0))
    ingest_event(run_event("COMPLETE", run_id="r-2", minutes=5))
    ingest_event(run_event("RUNNING", run_id="r-2", minutes=9))  # later, but not terminal
    body = ok(pipeline, f"{V1}/jobs/runs/r-2")
    assert body["state"] == "COMPLETED"
    assert body["endedAt"].startswith("2026-01-05T09:05")
    assert body["durationMs"] == 5 * 60 * 1000


def test_a_parent_known_only_by_reference_is_new(pipeline):
    parent = facet(
        "ParentRunFacet",
        run={"runId": "dag-run-7"},
        job={"namespace": "pipelines", "name": "dag"},
    )
    ingest_event(run_event(run_id="child", run_facets={"parent": parent}))
    assert ok(pipeline, f"{V1}/jobs/runs/dag-run-7")["state"] == "NEW"
    child = ok(pipeline, f"{V1}/jobs/runs/child")
    assert child["parentRunId"] == str(run_uuid("dag-run-7"))
    job = ok(pipeline, f"{V1}/namespaces/pipelines/jobs/train_model")
    assert job["parentJobName"] == "dag"


def test_the_legacy_airflow_parent_run_facet_name_is_read():
    legacy = facet(
        "ParentRunFacet", run={"runId": "dag-run-8"}, job={"namespace": "airflow", "name": "dag"}
    )
    ingest_event(run_event(run_id="task", run_facets={"parentRun": legacy}))
    assert Run.objects.get(run_id=run_uuid("task")).parent.run_id == run_uuid("dag-run-8")


# --- 3. dataset state by event time --------------------------------------------------------


def test_an_older_drop_arriving_last_does_not_win_over_a_newer_schema(pipeline):
    newer = run_event(
        minutes=10,
        outputs=[dataset("t", version="md5:" + "b" * 32, schema=schema_facet("a", "b"))],
    )
    older = run_event(
        minutes=1,
        outputs=[
            dataset(
                "t",
                version="md5:" + "a" * 32,
                schema=schema_facet("x"),
                lifecycleStateChange=lifecycle("DROP"),
            )
        ],
    )
    ingest_event(newer)
    ingest_event(older)  # arrives last, happened first
    body = ok(pipeline, f"{V1}/namespaces/warehouse/datasets/t")
    assert [f["name"] for f in body["fields"]] == ["a", "b"]
    assert body["currentVersion"] == "md5:" + "b" * 32
    assert body["lastLifecycleState"] is None
    assert "lifecycleStateChange" not in body["facets"]
    dropped = ok(pipeline, f"{V1}/namespaces/warehouse/datasets/t/versions/md5:{'a' * 32}")
    assert dropped["lifecycleState"] == "DROP"


def test_a_newer_drop_sets_the_lifecycle_state(pipeline):
    ingest_event(run_event(minutes=1, outputs=[dataset("t", schema=schema_facet("a"))]))
    ingest_event(
        run_event(minutes=9, outputs=[dataset("t", lifecycleStateChange=lifecycle("DROP"))])
    )
    assert ok(pipeline, f"{V1}/namespaces/warehouse/datasets/t")["lastLifecycleState"] == "DROP"


# --- 4. DatasetEvent and JobEvent ----------------------------------------------------------


def test_a_dataset_event_is_stored_fully_and_read(pipeline):
    event = dataset_event(
        "orders",
        minutes=3,
        schema=schema_facet("id", "total"),
        version=facet("DatasetVersionDatasetFacet", datasetVersion="md5:" + "c" * 32),
        documentation=facet("DocumentationDatasetFacet", description="All orders"),
    )
    assert pipeline.post(f"{V1}/lineage", event, format="json").status_code == 201
    body = ok(pipeline, f"{V1}/namespaces/warehouse/datasets/orders")
    assert [f["name"] for f in body["fields"]] == ["id", "total"]
    assert body["description"] == "All orders"
    assert body["currentVersion"] == "md5:" + "c" * 32
    # an older dataset event does not replace the schema
    ingest_event(dataset_event("orders", minutes=1, schema=schema_facet("old")))
    body = ok(pipeline, f"{V1}/namespaces/warehouse/datasets/orders")
    assert [f["name"] for f in body["fields"]] == ["id", "total"]


def test_a_job_event_declares_the_jobs_lineage(pipeline):
    event = job_event("etl", inputs=[dataset("raw")], outputs=[dataset("clean")])
    assert pipeline.post(f"{V1}/lineage", event, format="json").status_code == 201
    job = ok(pipeline, f"{V1}/namespaces/pipelines/jobs/etl")
    assert job["inputs"] == [{"namespace": "warehouse", "name": "raw"}]
    assert job["outputs"] == [{"namespace": "warehouse", "name": "clean"}]
    graph = ok(pipeline, f"{V1}/lineage?nodeId=dataset:warehouse:raw&depth=2")["graph"]
    assert {n["id"] for n in graph} == {
        "dataset:warehouse:raw",
        "job:pipelines:etl",
        "dataset:warehouse:clean",
    }
    # a newer JobEvent replaces the declared set; an older one does not
    ingest_event(job_event("etl", inputs=[dataset("raw2")], minutes=5))
    ingest_event(job_event("etl", inputs=[dataset("raw3")], minutes=2))
    job = ok(pipeline, f"{V1}/namespaces/pipelines/jobs/etl")
    assert job["inputs"] == [{"namespace": "warehouse", "name": "raw2"}]
    assert job["outputs"] == []


# --- 5. column lineage ---------------------------------------------------------------------


def column_facet(**fields):
    return facet(
        "ColumnLineageDatasetFacet",
        fields={
            out: {
                "inputFields": [
                    {"namespace": "warehouse", "name": src, "field": col} for src, col in inputs
                ]
            }
            for out, inputs in fields.items()
        },
    )


@pytest.fixture
def columns(db):
    ingest_event(
        run_event(
            job="clean",
            inputs=[dataset("raw", schema=schema_facet("a", "b"))],
            outputs=[
                dataset(
                    "mid", schema=schema_facet("c"), columnLineage=column_facet(c=[("raw", "a")])
                )
            ],
        )
    )
    ingest_event(
        run_event(
            job="score",
            inputs=[dataset("mid")],
            outputs=[
                dataset(
                    "top", schema=schema_facet("d"), columnLineage=column_facet(d=[("mid", "c")])
                )
            ],
            minutes=5,
        )
    )


def test_column_lineage_of_a_dataset_upstream_and_downstream(pipeline, columns):
    body = ok(pipeline, f"{V1}/column-lineage?nodeId=dataset:warehouse:top")
    ids = {n["id"] for n in body["graph"]}
    assert ids == {
        "datasetField:warehouse:top:d",
        "datasetField:warehouse:mid:c",
        "datasetField:warehouse:raw:a",
    }
    top = next(n for n in body["graph"] if n["id"] == "datasetField:warehouse:top:d")
    assert top["type"] == "DATASET_FIELD"
    assert top["data"]["inputFields"][0] == {
        "namespace": "warehouse",
        "dataset": "mid",
        "field": "c",
        "datasetVersion": None,
        "transformationDescription": None,
        "transformationType": None,
    }
    assert top["inEdges"] == [
        {"origin": "datasetField:warehouse:mid:c", "destination": "datasetField:warehouse:top:d"}
    ]
    only_up = ok(pipeline, f"{V1}/column-lineage?nodeId=dataset:warehouse:mid")
    assert {n["id"] for n in only_up["graph"]} == {
        "datasetField:warehouse:mid:c",
        "datasetField:warehouse:raw:a",
    }
    both = ok(pipeline, f"{V1}/column-lineage?nodeId=dataset:warehouse:mid&withDownstream=true")
    assert "datasetField:warehouse:top:d" in {n["id"] for n in both["graph"]}
    shallow = ok(pipeline, f"{V1}/column-lineage?nodeId=dataset:warehouse:top&depth=1")
    assert "datasetField:warehouse:raw:a" not in {n["id"] for n in shallow["graph"]}
    detail = ok(pipeline, f"{V1}/namespaces/warehouse/datasets/top")
    assert detail["columnLineage"] == [
        {
            "name": "d",
            "inputFields": [
                {
                    "namespace": "warehouse",
                    "dataset": "mid",
                    "field": "c",
                    "transformationDescription": None,
                    "transformationType": None,
                }
            ],
        }
    ]


def test_directed_queries_walk_column_lineage(pipeline, columns):
    up = ok(pipeline, "/api/lineage/upstream?nodeId=datasetField:warehouse:top:d")
    assert {n["id"] for n in up["graph"]} == {
        "datasetField:warehouse:top:d",
        "datasetField:warehouse:mid:c",
        "datasetField:warehouse:raw:a",
    }
    down = ok(pipeline, "/api/lineage/downstream?nodeId=datasetField:warehouse:raw:a")
    assert {n["id"] for n in down["graph"]} == {
        "datasetField:warehouse:raw:a",
        "datasetField:warehouse:mid:c",
        "datasetField:warehouse:top:d",
    }
    missing = pipeline.get("/api/lineage/upstream?nodeId=datasetField:warehouse:nope:d")
    assert missing.status_code == 404


# --- 6. symlinks ---------------------------------------------------------------------------


def test_a_dataset_is_found_by_a_symlink(pipeline):
    links = facet(
        "SymlinksDatasetFacet",
        identifiers=[{"namespace": "hive://metastore", "name": "sales.orders", "type": "TABLE"}],
    )
    ingest_event(run_event(outputs=[dataset("s3/orders", namespace="s3://lake", symlinks=links)]))
    body = ok(
        pipeline, f"{V1}/namespaces/{quote('hive://metastore', safe='')}/datasets/sales.orders"
    )
    assert body["id"] == {"namespace": "s3://lake", "name": "s3/orders"}
    assert body["symlinks"] == [
        {"namespace": "hive://metastore", "name": "sales.orders", "type": "TABLE"}
    ]
    graph = ok(pipeline, f"{V1}/lineage?nodeId=dataset:hive://metastore:sales.orders")["graph"]
    assert "dataset:s3://lake:s3/orders" in {n["id"] for n in graph}


# --- 7. names holding route words ----------------------------------------------------------


@pytest.mark.parametrize("name", ["a/datasets/b", "x/versions", "y/runs", "z/jobs/q"])
def test_names_holding_route_words_read_when_percent_encoded(pipeline, name):
    ingest_event(run_event(job=name, outputs=[dataset(name)]))
    ingest_event(run_event(job="plain", outputs=[dataset("plain")]))
    encoded = quote(name, safe="")
    assert ok(pipeline, f"{V1}/namespaces/warehouse/datasets/{encoded}")["name"] == name
    versions = ok(pipeline, f"{V1}/namespaces/warehouse/datasets/{encoded}/versions")
    assert len(versions["versions"]) == 1
    assert ok(pipeline, f"{V1}/namespaces/pipelines/jobs/{encoded}")["name"] == name
    runs = ok(pipeline, f"{V1}/namespaces/pipelines/jobs/{encoded}/runs")
    assert len(runs["runs"]) == 1
    assert ok(pipeline, f"{V1}/namespaces/warehouse/datasets/plain/versions")["totalCount"] == 1
    ok(pipeline, f"{V1}/namespaces/warehouse/datasets/nothing", status=404)


# --- 8. the other endpoints ----------------------------------------------------------------


@pytest.fixture
def graph(db):
    first = ingest_event(
        run_event(
            job="etl",
            inputs=[dataset("raw", version="md5:" + "1" * 32)],
            outputs=[
                {
                    **dataset("clean", schema=schema_facet("id", "email")),
                    "outputFacets": {
                        "outputStatistics": facet(
                            "OutputStatisticsOutputDatasetFacet", rowCount=10, size=512
                        )
                    },
                }
            ],
        )
    )
    second = ingest_event(
        run_event(job="report", namespace="analytics", inputs=[dataset("clean")], minutes=5)
    )
    return first.run, second.run


def test_jobs_across_namespaces_with_versions_and_latest_runs(pipeline, graph):
    first, second = graph
    jobs = ok(pipeline, f"{V1}/jobs")
    assert {(j["namespace"], j["name"]) for j in jobs["jobs"]} == {
        ("pipelines", "etl"),
        ("analytics", "report"),
    }
    etl = next(j for j in jobs["jobs"] if j["name"] == "etl")
    assert [r["id"] for r in etl["latestRuns"]] == [str(first.run_id)]
    assert etl["latestRun"]["state"] == "COMPLETED"
    assert etl["currentVersion"]
    versions = ok(pipeline, f"{V1}/namespaces/pipelines/jobs/etl/versions")["versions"]
    assert [v["version"] for v in versions] == [etl["currentVersion"]]
    assert versions[0]["inputs"] == [{"namespace": "warehouse", "name": "raw"}]
    assert versions[0]["outputs"] == [{"namespace": "warehouse", "name": "clean"}]
    one = ok(pipeline, f"{V1}/namespaces/pipelines/jobs/etl/versions/{etl['currentVersion']}")
    assert one["latestRun"]["id"] == str(first.run_id)
    run = ok(pipeline, f"{V1}/jobs/runs/{first.run_id}")
    assert run["jobVersion"] == {
        "namespace": "pipelines",
        "name": "etl",
        "version": etl["currentVersion"],
    }
    stats = run["outputDatasetVersions"][0]["facets"]["outputStatistics"]
    assert stats["rowCount"] == 10


def test_run_facets_and_run_lineage(pipeline, graph):
    first, second = graph
    facets = ok(pipeline, f"{V1}/jobs/runs/{first.run_id}/facets?type=job")
    assert facets["runId"] == str(first.run_id)
    ok(pipeline, f"{V1}/jobs/runs/{first.run_id}/facets?type=nope", status=400)
    upstream = ok(pipeline, f"{V1}/runlineage/upstream?runId={second.run_id}")
    assert [r["run"]["id"] for r in upstream["runs"]] == [str(second.run_id), str(first.run_id)]
    assert upstream["runs"][0]["inputs"][0]["producedByRunId"] == str(first.run_id)
    assert upstream["runs"][1]["job"]["name"] == "etl"


def test_dataset_version_by_version_and_sources(pipeline, graph):
    version = ok(pipeline, f"{V1}/namespaces/warehouse/datasets/raw/versions/md5:{'1' * 32}")
    assert version["version"] == "md5:" + "1" * 32
    clean = ok(pipeline, f"{V1}/namespaces/warehouse/datasets/clean/versions")["versions"][0]
    assert clean["createdByRun"]["state"] == "COMPLETED"
    assert clean["createdByRun"]["jobVersion"]["name"] == "etl"
    ok(pipeline, f"{V1}/namespaces/warehouse/datasets/raw/versions/md5:nope", status=404)
    sources = ok(pipeline, f"{V1}/sources")
    assert [s["name"] for s in sources["sources"]] == ["warehouse"]
    assert ok(pipeline, f"{V1}/sources/warehouse")["connectionUrl"] == "warehouse"
    ok(pipeline, f"{V1}/sources/pipelines", status=404)  # jobs only: not a source


def test_tags_on_datasets_and_fields_are_audited(pipeline, graph, board_member):
    put = pipeline.put(f"{V1}/tags/PII", {"description": "personal data"}, format="json")
    assert put.status_code == 200
    assert put.json()["tags"] == [{"name": "PII", "description": "personal data"}]
    tagged = pipeline.post(f"{V1}/namespaces/warehouse/datasets/clean/tags/PII")
    assert tagged.status_code == 200
    assert tagged.json()["tags"] == ["PII"]
    field = pipeline.post(f"{V1}/namespaces/warehouse/datasets/clean/fields/email/tags/PII")
    assert field.status_code == 200
    email = next(f for f in field.json()["fields"] if f["name"] == "email")
    assert email["tags"] == ["PII"]
    unknown = pipeline.post(f"{V1}/namespaces/warehouse/datasets/clean/fields/nope/tags/PII")
    assert unknown.status_code == 400
    assert ok(pipeline, f"{V1}/tags")["tags"] == [{"name": "PII", "description": "personal data"}]
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("lineage.dataset.tag") == 2
    assert "lineage.tag" in actions
    reader = token_client(board_member)
    refused = reader.post(f"{V1}/namespaces/warehouse/datasets/clean/tags/PII")
    assert refused.status_code == 403


def test_stats_for_the_ui_home_page(pipeline, graph):
    for kind in ("lineage-events", "jobs", "datasets", "sources"):
        for period in ("DAY", "WEEK"):
            body = ok(pipeline, f"{V1}/stats/{kind}?period={period}")
            assert len(body) == (24 if period == "DAY" else 7)
            assert all({"start", "end", "count"} <= set(b) for b in body)
    events = ok(pipeline, f"{V1}/stats/lineage-events?period=DAY")
    assert sum(b["count"] for b in events) == 2
    datasets = ok(pipeline, f"{V1}/stats/datasets?period=WEEK")
    assert datasets[-1]["count"] == 2  # cumulative
    ok(pipeline, f"{V1}/stats/jobs?period=YEAR", status=400)


def test_soft_deletes_are_for_admins_audited_and_undone_by_an_event(pipeline, graph):
    assert pipeline.delete(f"{V1}/namespaces/warehouse/datasets/clean").status_code == 403
    admin = token_client(UserFactory(username="root", groups=[Role.ADMIN]))
    gone = admin.delete(f"{V1}/namespaces/warehouse/datasets/clean")
    assert gone.status_code == 200
    assert gone.json()["deleted"] is True
    names = {d["name"] for d in ok(pipeline, f"{V1}/namespaces/warehouse/datasets")["datasets"]}
    assert names == {"raw"}
    assert AuditEvent.objects.filter(action="lineage.dataset.delete").count() == 1
    ingest_event(run_event(job="etl", outputs=[dataset("clean")], minutes=30))
    assert Dataset.objects.get(name="clean").deleted_at is None
    # a namespace takes its jobs and datasets with it
    assert admin.delete(f"{V1}/namespaces/analytics").status_code == 200
    assert "analytics" not in {n["name"] for n in ok(pipeline, f"{V1}/namespaces")["namespaces"]}
    assert Job.objects.get(name="report").deleted_at is not None
    assert admin.delete(f"{V1}/namespaces/pipelines/jobs/etl").status_code == 200
    assert ok(pipeline, f"{V1}/jobs")["jobs"] == []


def test_search_sorts_and_filters(pipeline, graph):
    by_name = ok(pipeline, f"{V1}/search?q=e&sort=NAME")["results"]
    assert [r["name"] for r in by_name] == sorted(r["name"] for r in by_name)
    only = ok(pipeline, f"{V1}/search?q=e&namespace=analytics")["results"]
    assert {r["namespace"] for r in only} == {"analytics"}
    ok(pipeline, f"{V1}/search?q=e&sort=size", status=400)


def test_an_end_arriving_after_a_later_start_still_ends_the_run(pipeline):
    ingest_event(run_event("START", run_id="r-3", minutes=5))
    ingest_event(run_event("COMPLETE", run_id="r-3", minutes=4))  # happened first, came last
    body = ok(pipeline, f"{V1}/jobs/runs/r-3")
    assert body["state"] == "COMPLETED"
    assert body["endedAt"].startswith("2026-01-05T09:04")
    ingest_event(run_event("FAIL", run_id="r-3", minutes=3))  # an earlier end does not win
    assert ok(pipeline, f"{V1}/jobs/runs/r-3")["state"] == "COMPLETED"
