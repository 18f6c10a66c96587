"""govreg's /api/v1 against Marquez's own OpenAPI document (vendored in marquez_spec/).

A live server gets a realistic graph through the real openlineage-python client
(runs with a parent, schemas, column lineage, symlinks, versions,
a DatasetEvent and a JobEvent); then every GET operation the document declares is
called with a token, and each answer is validated with jsonschema (Draft 2020-12)
against the response schema the document declares, references resolved by
``referencing``; and every property the document declares must be in the answer
(``absent``: validation alone would let an optional one go missing). The writes
govreg serves (tags, soft deletes) are checked the same way.

OpenAPI 3.0 schemas are JSON Schema with a few differences, translated here:
``nullable`` is spelt as a ``null`` type; ``example``, ``discriminator`` and the
document's misspelt keys are annotations. A property the schema does not require
may be ``null``: the document's own examples answer ``null`` for them
(``lastModifiedAt``, ``latestRun``, ``nominalStartTime``...), as Marquez does.
``date-time`` and ``uuid`` formats are checked. ``ERRATA`` lists where the document
contradicts Marquez's own answers, each with its reason.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    dataset_version_dataset,
    documentation_dataset,
    parent_run,
    schema_dataset,
    source_code_location_job,
    symlinks_dataset,
)
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from accounts.roles import Role
from accounts.services import issue_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
SPEC = Path(__file__).resolve().parent / "marquez_spec" / "openapi.yml"
URN = "urn:marquez:openapi"

# Operations govreg deliberately does not serve (see the README's Lineage section):
# Marquez's deprecated direct writes; lineage comes from OpenLineage events only.
NOT_SERVED = {
    ("put", "/namespaces/{namespace}"): "namespaces come from events",
    ("put", "/sources/{source}"): "deprecated in Marquez; sources are dataset namespaces",
    ("put", "/namespaces/{namespace}/datasets/{dataset}"): "deprecated in Marquez",
    ("put", "/namespaces/{namespace}/jobs/{job}"): "deprecated in Marquez",
    ("post", "/namespaces/{namespace}/jobs/{job}/runs"): "deprecated in Marquez",
    ("post", "/jobs/runs/{id}/start"): "deprecated in Marquez; runs change by events",
    ("post", "/jobs/runs/{id}/complete"): "deprecated in Marquez; runs change by events",
    ("post", "/jobs/runs/{id}/fail"): "deprecated in Marquez; runs change by events",
    ("post", "/jobs/runs/{id}/abort"): "deprecated in Marquez; runs change by events",
    ("post", "/lineage"): "the intake has its own tests (201 with the stored event)",
}


def _errata(components: dict) -> None:
    """Where the document contradicts what Marquez itself answers."""
    schemas = components["schemas"]
    # DatasetVersion.tags is declared a string; Marquez (like Dataset.tags) answers a list.
    schemas["DatasetVersion"]["properties"]["tags"] = {"type": "array", "items": {"type": "string"}}
    # A run's input/output facets are declared string-valued; they are facet objects.
    for name in ("InputDatasetVersion", "OutputDatasetVersion"):
        schemas[name]["properties"]["facets"] = {"type": "object"}
    # FacetsResult.facets is a map of facets, not one facet.
    schemas["FacetsResult"]["properties"]["facets"] = {
        "type": "object",
        "additionalProperties": {"$ref": "#/components/schemas/CustomFacet"},
    }
    # GraphNode.data is oneOf Dataset/Job, which share only optional properties, so no
    # answer matches exactly one: check data by the node's type instead. Column-lineage
    # nodes (DATASET_FIELD, which Marquez answers there) carry field data.
    node = schemas["GraphNode"]
    node["properties"]["data"] = {"type": "object"}
    node["allOf"] = [
        {
            "if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
            "then": {"properties": {"data": {"$ref": f"#/components/schemas/{ref}"}}},
        }
        for kind, ref in (("DATASET", "Dataset"), ("JOB", "Job"))
    ]
    schemas["NodeType"]["enum"] = [*schemas["NodeType"]["enum"], "DATASET_FIELD"]
    # govreg's dataset versions are content identifiers (md5:<hash>, or the writing run's
    # id), not random UUIDs: a deliberate difference, listed in the README.
    schemas["DatasetVersionId"]["properties"]["version"].pop("format")
    schemas["Dataset"]["properties"]["currentVersion"].pop("format")


_ANNOTATIONS = {"example", "discriminator", "deprecated", "propoerties", "paramteters", "xml"}


def _to_json_schema(node):
    """An OpenAPI 3.0 schema object as JSON Schema (see the module docstring)."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_json_schema(v) for k, v in node.items() if k not in _ANNOTATIONS}
    if "type" in out and out["type"] is None:
        del out["type"]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if isinstance(out.get("properties"), dict):
        required = set(out.get("required") or [])
        out["properties"] = {
            name: prop if name in required else {"anyOf": [{"type": "null"}, prop]}
            for name, prop in out["properties"].items()
        }
    return out


@cache
def spec() -> dict:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


@cache
def registry() -> Registry:
    document = copy.deepcopy(spec())
    _errata(document["components"])
    document["components"] = _to_json_schema(document["components"])
    return Registry().with_resource(
        URN, Resource.from_contents(document, default_specification=DRAFT202012)
    )


_D = (
    Draft202012Validator.META_SCHEMA and __import__("referencing.jsonschema").jsonschema.DRAFT202012
)
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(value) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value)) and len(value) == 36


def response_schema(operation: dict) -> dict:
    return {"$ref": f"{URN}{declared_answer(operation)['$ref']}"}


@cache
def declared_schemas() -> dict:
    """The document's schemas with the errata applied, still in OpenAPI's spelling."""
    document = copy.deepcopy(spec())
    _errata(document["components"])
    return document["components"]["schemas"]


def absent(schema: dict, body, path: str = "$") -> list[str]:
    """Paths of the properties the document declares that an answer leaves out.

    Validation lets an optional property be missing; a client of Marquez's API reads
    them all (``job.context``, ``dataset.columnLineage``...), so govreg answers each
    one, ``null`` when it knows nothing. Graph nodes' data is followed by node type
    (see ``_errata``)."""
    schemas = declared_schemas()
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    if body is None:
        return []
    found = []
    for part in schema.get("allOf", []):
        if "if" not in part:
            found += absent(part, body, path)
        elif (
            isinstance(body, dict) and body.get("type") == part["if"]["properties"]["type"]["const"]
        ):
            found += absent(part["then"], body, path)
    if isinstance(body, dict):
        for name, prop in (schema.get("properties") or {}).items():
            where = f"{path}.{name}"
            found += absent(prop, body[name], where) if name in body else [where]
    elif isinstance(body, list) and isinstance(schema.get("items"), dict):
        for item in body:
            found += absent(schema["items"], item, f"{path}[*]")
    return sorted(set(found))


def declared_answer(operation: dict) -> dict:
    responses = operation["responses"]
    answer = responses.get("200") or responses.get(200) or responses.get("201")
    return answer["content"]["application/json"]["schema"]


def errors(operation: dict, body) -> list[str]:
    validator = Draft202012Validator(
        response_schema(operation), registry=registry(), format_checker=FORMATS
    )
    return [f"{e.json_path}: {e.message[:200]}" for e in validator.iter_errors(body)]


# --- the graph ---------------------------------------------------------------------------------

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.0.0/client/python"
T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def schema(*names):
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type="STRING") for n in names]
    )


def emit_graph(client: OpenLineageClient) -> dict:
    """A scheduler run with two task runs: extract -> features -> train."""
    dag_run = str(
        uuid.uuid4()
    )  # the client itself insists on UUIDs (non-UUID ids: test_marquez_reader)
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=dag_run),
        job=parent_run.Job(namespace="airflow", name="credit_dag"),
    )
    client.emit(
        RunEvent(eventType=RunState.START, eventTime=T0.isoformat(), run=Run(runId=dag_run),
                 job=Job(namespace="airflow", name="credit_dag"), producer=PRODUCER)
    )  # fmt: skip
    extract = str(uuid.uuid4())
    raw = InputDataset(
        namespace="postgres://db:5432",
        name="public.loans",
        facets={
            "schema": schema("loan_id", "amount", "email"),
            "symlinks": symlinks_dataset.SymlinksDatasetFacet(
                identifiers=[
                    symlinks_dataset.Identifier(
                        namespace="hive://metastore", name="credit.loans", type="TABLE"
                    )
                ]
            ),
        },
    )
    features = OutputDataset(
        namespace="s3://lake",
        name="features/loans.parquet",
        facets={
            "schema": schema("loan_id", "amount_eur"),
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion="md5:" + "4" * 32
            ),
            "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet(
                fields={
                    "amount_eur": column_lineage_dataset.Fields(
                        inputFields=[
                            column_lineage_dataset.InputField(
                                namespace="postgres://db:5432", name="public.loans", field="amount"
                            )
                        ],
                        transformationDescription="converted to EUR",
                        transformationType="TRANSFORMATION",
                    )
                }
            ),
        },
    )
    job_facets = {
        "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet(
            type="git", url="https://git.example.com/credit/etl.py"
        )
    }
    for kind, minutes in ((RunState.START, 1), (RunState.COMPLETE, 4)):
        client.emit(
            RunEvent(
                eventType=kind,
                eventTime=(T0 + timedelta(minutes=minutes)).isoformat(),
                run=Run(runId=extract, facets={"parent": parent}),
                job=Job(namespace="airflow", name="credit_dag.extract", facets=job_facets),
                inputs=[raw],
                outputs=[features],
                producer=PRODUCER,
            )
        )
    train = str(uuid.uuid4())
    client.emit(
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=(T0 + timedelta(minutes=9)).isoformat(),
            run=Run(runId=train, facets={"parent": parent}),
            job=Job(namespace="airflow", name="credit_dag.train"),
            inputs=[InputDataset(namespace="s3://lake", name="features/loans.parquet")],
            outputs=[OutputDataset(namespace="s3://models", name="loan-default/model.tar.gz")],
            producer=PRODUCER,
        )
    )
    client.emit(
        DatasetEvent(
            eventTime=(T0 + timedelta(minutes=10)).isoformat(),
            producer=PRODUCER,
            dataset=StaticDataset(
                namespace="s3://lake",
                name="reference/countries.csv",
                facets={
                    "schema": schema("code", "name"),
                    "documentation": documentation_dataset.DocumentationDatasetFacet(
                        description="ISO country codes"
                    ),
                },
            ),
        )
    )
    client.emit(
        JobEvent(
            eventTime=(T0 + timedelta(minutes=11)).isoformat(),
            producer=PRODUCER,
            job=Job(namespace="airflow", name="credit_dag.report"),
            inputs=[InputDataset(namespace="s3://lake", name="features/loans.parquet")],
            outputs=[OutputDataset(namespace="s3://lake", name="reports/weekly.csv")],
        )
    )
    return {"extract": extract, "train": train, "dag_run": dag_run}


@pytest.fixture
def server(live_server, settings):
    settings.SECURE_SSL_REDIRECT = False
    return live_server


@pytest.fixture
def world(server):
    writer = UserFactory(username="airflow", groups=[Role.PIPELINE])
    token = issue_token(writer, name="airflow")[1]
    config = HttpConfig(
        url=server.url,
        endpoint="api/v1/lineage",
        auth=ApiKeyTokenProvider({"apiKey": token}),
        retry={"total": 0},
    )
    runs = emit_graph(OpenLineageClient(transport=HttpTransport(config)))
    admin = UserFactory(username="root", groups=[Role.ADMIN])
    return {
        "base": server.url + "/api/v1",
        "token": token,
        "admin": issue_token(admin, name="root")[1],
        "runs": runs,
    }


def fill(path: str, world) -> tuple[str, dict]:
    """A concrete URL for one declared path, on records of the graph, and its query."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {world['token']}"
    base = world["base"]
    job_version = session.get(f"{base}/namespaces/airflow/jobs/credit_dag.extract").json()[
        "currentVersion"
    ]
    values = {
        "namespace": "s3%3A%2F%2Flake",
        "dataset": "features%2Floans.parquet",
        "version": "md5:" + "4" * 32,
        "job": "credit_dag.extract",
        "id": world["runs"]["extract"],
        "source": "s3%3A%2F%2Flake",
        "tag": "PII",
        "field": "amount_eur",
    }
    if "/jobs/{job}/versions/{version}" in path:
        values["namespace"], values["version"] = "airflow", job_version
    elif "/jobs/" in path or path.endswith("/jobs"):
        values["namespace"] = "airflow"
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    query = {
        "/lineage": {"nodeId": "job:airflow:credit_dag.extract", "depth": 5},
        "/column-lineage": {
            "nodeId": "dataset:s3://lake:features/loans.parquet",
            "withDownstream": "true",
        },
        "/runlineage/upstream": {"runId": world["runs"]["train"]},
        "/search": {"q": "loans"},
        "/jobs/runs/{id}/facets": {"type": "run"},
    }.get(path, {})
    return base + url, query


def operations():
    for path, item in spec()["paths"].items():
        for method in ("get", "put", "post", "delete"):
            if method in item:
                yield method, path, item[method]


def test_every_declared_operation_is_checked_or_listed_as_not_served():
    declared = {(m, p) for m, p, _ in operations()}
    checked = {("get", p) for m, p in declared if m == "get"} | set(WRITES)
    assert declared == checked | set(NOT_SERVED)
    assert not checked & set(NOT_SERVED)


WRITES = {
    ("put", "/tags/{tag}"): {"description": "personal data"},
    ("post", "/namespaces/{namespace}/datasets/{dataset}/tags/{tag}"): None,
    ("post", "/namespaces/{namespace}/datasets/{dataset}/fields/{field}/tags/{tag}"): None,
    ("delete", "/namespaces/{namespace}/datasets/{dataset}"): None,
    ("delete", "/namespaces/{namespace}/jobs/{job}"): None,
    ("delete", "/namespaces/{namespace}"): None,
}


def test_every_get_answers_what_the_document_declares(world):
    failures = {}
    checked = 0
    for method, path, operation in operations():
        if method != "get":
            continue
        url, query = fill(path, world)
        anonymous = requests.get(url, params=query, timeout=30)
        assert anonymous.status_code == 401, (path, anonymous.status_code)  # reads need a token
        answer = requests.get(
            url, params=query, headers={"Authorization": f"Bearer {world['token']}"}, timeout=30
        )
        if answer.status_code != 200:
            failures[path] = f"{answer.status_code} {answer.text[:300]}"
            continue
        body = answer.json()
        found = errors(operation, body) + [
            f"{where}: declared, not answered" for where in absent(declared_answer(operation), body)
        ]
        if found:
            failures[path] = found[:5]
        checked += 1
        assert body, path  # never an empty answer on this graph
    assert not failures, failures
    assert checked == len([1 for m, _, _ in operations() if m == "get"])


# The declared query parameters beyond the defaults: each answer is checked the same way.
VARIANTS = [
    ("/events/lineage", {"sortDirection": "asc", "limit": 2, "offset": 1}),
    ("/events/lineage", {"after": "2026-03-01T06:02:00Z", "before": "2026-03-01T06:10:00Z"}),
    ("/search", {"q": "credit", "filter": "JOB", "sort": "NAME"}),
    ("/search", {"q": "loans", "filter": "DATASET", "sort": "UPDATE_AT", "limit": 1}),
    ("/lineage", {"nodeId": "dataset:s3://lake:features/loans.parquet", "depth": 1}),
    ("/column-lineage", {"nodeId": "datasetField:s3://lake:features/loans.parquet:amount_eur"}),
    ("/jobs/runs/{id}/facets", {"type": "job"}),
    ("/namespaces/{namespace}/jobs", {"limit": 1, "offset": 1}),
]


def test_the_declared_query_parameters_answer_the_declared_schema(world):
    by_path = {p: op for m, p, op in operations() if m == "get"}
    failures = {}
    for path, query in VARIANTS:
        url, _ = fill(path, world)
        answer = requests.get(
            url, params=query, headers={"Authorization": f"Bearer {world['token']}"}, timeout=30
        )
        if answer.status_code != 200:
            failures[(path, str(query))] = f"{answer.status_code} {answer.text[:300]}"
            continue
        body = answer.json()
        operation = by_path[path]
        found = errors(operation, body) + [
            f"{where}: declared, not answered" for where in absent(declared_answer(operation), body)
        ]
        if found or not body:
            failures[(path, str(query))] = found[:5] or "empty"
    assert not failures, failures


def test_the_writes_govreg_serves_answer_the_declared_schema(world):
    operations_by_key = {(m, p): op for m, p, op in operations()}
    failures = {}
    reader = UserFactory(username="bianca", groups=[Role.BOARD])
    reader_token = issue_token(reader, name="board")[1]
    for (method, path), body in WRITES.items():
        url, _ = fill(path, world)
        token = world["admin"] if method == "delete" else world["token"]
        refused = getattr(requests, method)(
            url, json=body, headers={"Authorization": f"Bearer {reader_token}"}, timeout=30
        )
        assert refused.status_code == 403, (method, path, refused.status_code)
        answer = getattr(requests, method)(
            url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        if answer.status_code != 200:
            failures[(method, path)] = f"{answer.status_code} {answer.text[:300]}"
            continue
        operation = operations_by_key[(method, path)]
        found = errors(operation, answer.json()) + [
            f"{where}: declared, not answered"
            for where in absent(declared_answer(operation), answer.json())
        ]
        if found:
            failures[(method, path)] = found[:5]
    assert not failures, failures


def test_the_checker_would_catch_a_wrong_answer():
    """The translation keeps the document's teeth: a wrong type or state is refused."""
    versions = spec()["paths"]["/namespaces/{namespace}/datasets/{dataset}/versions"]["get"]
    assert errors(versions, {"versions": [{"id": {"namespace": "a"}}]})  # required fields
    graph = spec()["paths"]["/lineage"]["get"]
    node = {"id": "job:a:b", "type": "JOB", "data": {"latestRun": {"state": "COMPLETE"}}}
    assert errors(graph, {"graph": [node]}) == []
    assert errors(graph, {"graph": [{**node, "type": "RUN"}]})  # unknown node type
    assert errors(graph, {"graph": [{**node, "data": {"inputs": "x"}}]})  # data checked as a Job
    listing = spec()["paths"]["/namespaces"]["get"]
    assert errors(listing, {"namespaces": [{"name": 7}]})
    assert errors(listing, {"namespaces": [{"name": "a", "createdAt": "yesterday"}]})


def test_the_presence_check_would_catch_a_left_out_field():
    """Validation alone lets optional properties go missing; ``absent`` names them."""
    job = spec()["paths"]["/namespaces/{namespace}/jobs/{job}"]["get"]
    schema = declared_answer(job)
    declared = set(declared_schemas()["Job"]["properties"])
    full = dict.fromkeys(declared)
    assert absent(schema, full) == []
    assert absent(schema, {k: v for k, v in full.items() if k != "context"}) == ["$.context"]
    graph = declared_answer(spec()["paths"]["/lineage"]["get"])
    node = {"id": "job:a:b", "type": "JOB", "data": {**full, "latestRun": None}, "inEdges": [],
            "outEdges": []}  # fmt: skip
    assert absent(graph, {"graph": [node]}) == []
    del node["data"]["latestRun"]
    assert absent(graph, {"graph": [node]}) == ["$.graph[*].data.latestRun"]
