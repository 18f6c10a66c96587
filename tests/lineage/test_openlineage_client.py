"""The real openlineage-python client (HttpTransport, api_key, gzip) against the live server."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import dataset_version_dataset, schema_dataset
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)

from accounts.roles import Role
from accounts.services import issue_token
from lineage.choices import RunState as StoredState
from lineage.models import DatasetVersion, LineageEvent
from lineage.models import Run as StoredRun
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
DIGEST = "9e107d9d372bb6826bd81d3542a419d6"


@pytest.fixture
def server(live_server, settings):
    settings.SECURE_SSL_REDIRECT = False
    return live_server


@pytest.fixture
def token(db):
    user = UserFactory(username="airflow", groups=[Role.PIPELINE])
    return issue_token(user, name="airflow")[1]


def client_for(url: str, token: str) -> OpenLineageClient:
    config = HttpConfig(
        url=url,
        endpoint="api/v1/lineage",
        auth=ApiKeyTokenProvider({"apiKey": token}),
        compression=HttpCompression.GZIP,
        retry={"total": 0},
    )
    return OpenLineageClient(transport=HttpTransport(config))


def schema(*names):
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type="STRING") for n in names]
    )


def test_start_then_complete_with_inputs_and_outputs_shows_in_the_graph(server, token):
    client = client_for(server.url, token)
    run = Run(runId=str(uuid.uuid4()))
    job = Job(namespace="airflow", name="credit.train_scorecard")
    inputs = [
        InputDataset(
            namespace="s3://lake",
            name="raw/loans.csv",
            facets={
                "schema": schema("loan_id", "amount"),
                "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                    datasetVersion=f"md5:{DIGEST}"
                ),
            },
        )
    ]
    outputs = [OutputDataset(namespace="s3://lake", name="features/loans.parquet")]
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    client.emit(
        RunEvent(
            eventType=RunState.START, eventTime=start.isoformat(), run=run, job=job, inputs=inputs
        )
    )
    client.emit(
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=(start + timedelta(minutes=7)).isoformat(),
            run=run,
            job=job,
            inputs=inputs,
            outputs=outputs,
        )
    )

    assert LineageEvent.objects.count() == 2
    stored = StoredRun.objects.get(run_id=run.runId)
    assert stored.state == StoredState.COMPLETE
    assert DatasetVersion.objects.get(dataset__name="raw/loans.csv").version == f"md5:{DIGEST}"

    headers = {"Authorization": f"Bearer {token}"}
    graph = requests.get(
        f"{server.url}/api/v1/lineage",
        params={"nodeId": "job:airflow:credit.train_scorecard", "depth": 2},
        headers=headers,
        timeout=10,
    ).json()["graph"]
    nodes = {node["id"]: node for node in graph}
    job_node = nodes["job:airflow:credit.train_scorecard"]
    assert job_node["type"] == "JOB"
    assert job_node["inEdges"] == [
        {"origin": "dataset:s3://lake:raw/loans.csv", "destination": job_node["id"]}
    ]
    assert job_node["outEdges"] == [
        {"origin": job_node["id"], "destination": "dataset:s3://lake:features/loans.parquet"}
    ]
    assert nodes["dataset:s3://lake:raw/loans.csv"]["data"]["fields"][0]["name"] == "loan_id"

    upstream = requests.get(
        f"{server.url}/api/lineage/upstream",
        params={"nodeId": "dataset:s3://lake:features/loans.parquet"},
        headers=headers,
        timeout=10,
    ).json()["graph"]
    ids = {node["id"] for node in upstream}
    assert f"datasetVersion:s3://lake:raw/loans.csv:md5:{DIGEST}" in ids
    assert f"run:{run.runId}" in ids


def test_the_client_retrying_the_same_event_stores_it_once(server, token):
    client = client_for(server.url, token)
    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=datetime(2026, 1, 5, tzinfo=UTC).isoformat(),
        run=Run(runId=str(uuid.uuid4())),
        job=Job(namespace="airflow", name="retry"),
    )
    client.emit(event)
    client.emit(event)
    assert LineageEvent.objects.count() == 1


def test_a_wrong_token_is_refused(server, token):
    client = client_for(server.url, token + "x")
    event = RunEvent(
        eventType=RunState.START,
        eventTime=datetime(2026, 1, 5, tzinfo=UTC).isoformat(),
        run=Run(runId=str(uuid.uuid4())),
        job=Job(namespace="airflow", name="denied"),
    )
    with pytest.raises(requests.HTTPError) as caught:
        client.emit(event)
    assert caught.value.response.status_code == 401
    assert LineageEvent.objects.count() == 0
