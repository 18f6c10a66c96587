"""Marquez-shaped reads and govreg's directed queries over a small pipeline.

raw/loans.csv -> [clean] -> features -> [train] -> model_input
                              features -> [report] -> report
"""

from datetime import timedelta
from urllib.parse import quote

import pytest

from lineage.models import DatasetVersion, RunInput, RunOutput
from lineage.services import ingest_event
from tests.conftest import token_client
from tests.lineage.factories import dataset, run_event, schema_facet

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline_runs(db):
    clean = ingest_event(
        run_event(
            job="clean",
            inputs=[dataset("raw/loans.csv", version="md5:" + "1" * 32)],
            outputs=[dataset("features", schema=schema_facet("loan_id", "amount"))],
        )
    )
    train = ingest_event(
        run_event(
            job="train",
            inputs=[dataset("features")],
            outputs=[dataset("model_input")],
            minutes=10,
        )
    )
    report = ingest_event(
        run_event(
            job="report", inputs=[dataset("features")], outputs=[dataset("report")], minutes=20
        )
    )
    return {"clean": clean, "train": train, "report": report}


@pytest.fixture
def api(member):
    return token_client(member)


def ids(graph):
    return {node["id"] for node in graph}


def test_marquez_lineage_graph_around_a_dataset(api, pipeline_runs):
    response = api.get("/api/v1/lineage", {"nodeId": "dataset:warehouse:features", "depth": 1})
    assert response.status_code == 200
    graph = response.json()["graph"]
    assert ids(graph) == {
        "dataset:warehouse:features",
        "job:pipelines:clean",
        "job:pipelines:train",
        "job:pipelines:report",
    }
    features = next(n for n in graph if n["id"] == "dataset:warehouse:features")
    assert features["type"] == "DATASET"
    assert features["inEdges"] == [
        {"origin": "job:pipelines:clean", "destination": "dataset:warehouse:features"}
    ]
    assert {e["destination"] for e in features["outEdges"]} == {
        "job:pipelines:train",
        "job:pipelines:report",
    }
    assert [f["name"] for f in features["data"]["fields"]] == ["loan_id", "amount"]

    whole = api.get("/api/v1/lineage", {"nodeId": "job:pipelines:train"}).json()["graph"]
    assert "dataset:warehouse:raw/loans.csv" in ids(whole)
    assert "dataset:warehouse:report" in ids(whole)


def test_graph_query_errors_are_4xx(api, pipeline_runs):
    assert api.get("/api/v1/lineage").status_code == 400
    assert api.get("/api/v1/lineage", {"nodeId": "dataset:warehouse:nope"}).status_code == 404
    assert api.get("/api/v1/lineage", {"nodeId": "table:x:y"}).status_code == 404
    bad_depth = api.get("/api/v1/lineage", {"nodeId": "job:pipelines:train", "depth": "deep"})
    assert bad_depth.status_code == 400
    assert bad_depth.json()["fields"] == {"depth": ["must be an integer"]}
    assert (
        api.get("/api/lineage/upstream", {"nodeId": "job:pipelines:train", "asOf": "x"}).status_code
        == 400
    )


def test_upstream_of_a_dataset_version_walks_runs_and_versions(api, pipeline_runs):
    train_run = pipeline_runs["train"].run
    version = DatasetVersion.objects.get(dataset__name="model_input")
    node = f"datasetVersion:warehouse:model_input:{version.version}"
    graph = api.get("/api/lineage/upstream", {"nodeId": node}).json()["graph"]
    clean_run = pipeline_runs["clean"].run
    features = DatasetVersion.objects.get(dataset__name="features")
    assert ids(graph) == {
        node,
        f"run:{train_run.run_id}",
        f"datasetVersion:warehouse:features:{features.version}",
        f"run:{clean_run.run_id}",
        f"datasetVersion:warehouse:raw/loans.csv:md5:{'1' * 32}",
    }
    raw = next(n for n in graph if n["id"].startswith("datasetVersion:warehouse:raw"))
    assert raw["outEdges"] == [{"origin": raw["id"], "destination": f"run:{clean_run.run_id}"}]
    shallow = api.get("/api/lineage/upstream", {"nodeId": node, "depth": 1}).json()["graph"]
    assert f"run:{clean_run.run_id}" not in ids(shallow)


def test_downstream_of_the_raw_data(api, pipeline_runs):
    graph = api.get(
        "/api/lineage/downstream", {"nodeId": "dataset:warehouse:raw/loans.csv"}
    ).json()["graph"]
    runs = {n["data"]["job"]["name"] for n in graph if n["type"] == "RUN"}
    assert runs == {"clean", "train", "report"}
    names = {n["data"]["name"] for n in graph if n["type"] == "DATASET_VERSION"}
    assert names == {"raw/loans.csv", "features", "model_input", "report"}


def test_as_of_shows_the_graph_as_it_was(api, pipeline_runs):
    report_run = pipeline_runs["report"].run
    moment = RunInput.objects.filter(run=pipeline_runs["train"].run).get().created_at
    later = moment + timedelta(hours=1)
    RunInput.objects.filter(run=report_run).update(created_at=later)
    RunOutput.objects.filter(run=report_run).update(created_at=later)
    report_run.__class__.objects.filter(pk=report_run.pk).update(created_at=later)
    DatasetVersion.objects.filter(dataset__name="report").update(created_at=later)

    params = {"nodeId": "dataset:warehouse:features", "asOf": moment.isoformat()}
    then = api.get("/api/lineage/downstream", params).json()
    assert f"run:{report_run.run_id}" not in ids(then["graph"])
    now = api.get("/api/lineage/downstream", {"nodeId": "dataset:warehouse:features"}).json()
    assert f"run:{report_run.run_id}" in ids(now["graph"])


def test_marquez_reads(api, pipeline_runs):
    namespaces = api.get("/api/v1/namespaces").json()
    assert [n["name"] for n in namespaces["namespaces"]] == ["pipelines", "warehouse"]

    datasets = api.get("/api/v1/namespaces/warehouse/datasets").json()
    assert datasets["totalCount"] == 4
    assert {d["id"]["name"] for d in datasets["datasets"]} == {
        "features",
        "model_input",
        "raw/loans.csv",
        "report",
    }
    encoded = quote("raw/loans.csv", safe="")
    detail = api.get(f"/api/v1/namespaces/warehouse/datasets/{encoded}")
    assert detail.status_code == 200
    assert detail.json()["currentVersion"] == "md5:" + "1" * 32
    versions = api.get(f"/api/v1/namespaces/warehouse/datasets/{encoded}/versions").json()
    assert [v["version"] for v in versions["versions"]] == ["md5:" + "1" * 32]
    assert versions["versions"][0]["status"] == "active"

    jobs = api.get("/api/v1/namespaces/pipelines/jobs").json()
    assert {j["name"] for j in jobs["jobs"]} == {"clean", "train", "report"}
    train = api.get("/api/v1/namespaces/pipelines/jobs/train").json()
    assert train["inputs"] == [{"namespace": "warehouse", "name": "features"}]
    assert train["latestRun"]["state"] == "COMPLETED"  # Marquez's run state names
    runs = api.get("/api/v1/namespaces/pipelines/jobs/train/runs").json()
    assert runs["totalCount"] == 1
    assert runs["runs"][0]["outputDatasetVersions"][0]["datasetVersionId"]["name"] == "model_input"

    found = api.get("/api/v1/search", {"q": "loans"}).json()
    assert [r["nodeId"] for r in found["results"]] == ["dataset:warehouse:raw/loans.csv"]
    assert api.get("/api/v1/namespaces/nowhere/datasets").status_code == 404
    assert api.get("/api/v1/namespaces/warehouse/datasets/nope").status_code == 404


def test_names_with_colons_and_slashes_in_namespaces(api):
    ingest_event(
        run_event(
            namespace="airflow://prod:8080",
            job="dag/task:1",
            inputs=[dataset("public.loans", namespace="postgres://db:5432")],
        )
    )
    graph = api.get(
        "/api/v1/lineage", {"nodeId": "dataset:postgres://db:5432:public.loans"}
    ).json()["graph"]
    assert ids(graph) == {
        "dataset:postgres://db:5432:public.loans",
        "job:airflow://prod:8080:dag/task:1",
    }
    ns = quote("airflow://prod:8080", safe="")
    runs = api.get(f"/api/v1/namespaces/{ns}/jobs/{quote('dag/task:1', safe='')}/runs")
    assert runs.status_code == 200
    assert runs.json()["totalCount"] == 1


def test_lists_do_not_grow_queries_with_rows(api, django_assert_max_num_queries):
    for i in range(30):
        ingest_event(
            run_event(job=f"job{i}", inputs=[dataset(f"in{i}")], outputs=[dataset(f"out{i}")])
        )
    with django_assert_max_num_queries(10):
        assert len(api.get("/api/v1/namespaces/warehouse/datasets").json()["datasets"]) == 60
    with django_assert_max_num_queries(12):
        assert len(api.get("/api/v1/namespaces/pipelines/jobs").json()["jobs"]) == 30
    with django_assert_max_num_queries(10):
        assert len(api.get("/api/lineage/dataset-versions").json()["results"]) == 50
    with django_assert_max_num_queries(10):
        assert api.get("/api/v1/events/lineage").json()["totalCount"] == 30
    with django_assert_max_num_queries(12):
        api.get("/api/lineage/downstream", {"nodeId": "dataset:warehouse:in3"})
