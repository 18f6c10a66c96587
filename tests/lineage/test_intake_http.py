"""POST /api/v1/lineage and /batch: status codes, bad bodies, idempotency, permissions."""

import gc
import gzip
import json
import tracemalloc
import uuid
import zlib

import pytest

from lineage.choices import RunState
from lineage.models import LineageEvent, Run
from tests.conftest import token_client
from tests.lineage.factories import dataset, facet, run_event, schema_facet

pytestmark = pytest.mark.django_db
URL = "/api/v1/lineage"
BATCH = "/api/v1/lineage/batch"


def post_raw(client, body: bytes, url=URL, **headers):
    return client.generic("POST", url, body, content_type="application/json", **headers)


def test_event_is_stored_and_answered_201(pipeline):
    response = pipeline.post(URL, run_event(outputs=[dataset("features")]), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["stored"] is True
    assert LineageEvent.objects.count() == 1


def test_same_event_twice_is_stored_once_and_answered_201_both_times(pipeline):
    event = run_event(outputs=[dataset("features")])
    first = pipeline.post(URL, event, format="json")
    second = post_raw(pipeline, json.dumps(event, indent=2).encode())  # other whitespace
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == {**first.json(), "stored": False}
    assert LineageEvent.objects.count() == 1


def test_out_of_order_start_after_complete_leaves_the_run_completed(pipeline):
    run_id = str(uuid.uuid4())
    pipeline.post(URL, run_event("COMPLETE", run_id=run_id, minutes=3), format="json")
    pipeline.post(URL, run_event("START", run_id=run_id), format="json")
    run = Run.objects.get(run_id=run_id)
    assert run.state == RunState.COMPLETE
    assert run.started_at < run.ended_at


def test_gzip_body_is_accepted(pipeline):
    body = gzip.compress(json.dumps(run_event()).encode())
    response = post_raw(pipeline, body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("mutate", "field", "why"),
    [
        (lambda e: e["run"].pop("runId"), "run.runId", "required"),
        (lambda e: e["run"].update(runId=42), "run.runId", "string"),
        (lambda e: e.update(eventTime="yesterday at noon"), "eventTime", "date-time"),
        (lambda e: e.update(eventTime="2026-01-05T09:00:00"), "eventTime", "date-time"),
        (lambda e: e.pop("job"), "job", "required"),
        (lambda e: e.update(eventType="FINISHED"), "eventType", "FINISHED"),
        (
            lambda e: e["outputs"][0]["facets"]["version"].pop("datasetVersion"),
            "outputs[0].facets.version.datasetVersion",
            "required",
        ),
        (
            lambda e: e["outputs"][0]["facets"]["version"].pop("_producer"),
            "outputs[0].facets.version._producer",
            "required",
        ),
        (
            lambda e: e["run"]["facets"].update(
                parent=facet(
                    "ParentRunFacet", run={"runId": ""}, job={"namespace": "a", "name": "b"}
                )
            ),
            "run.facets.parent.run.runId",
            "non-empty",
        ),
        (lambda e: e["inputs"].append({"name": "no-namespace"}), "inputs[0].namespace", "required"),
    ],
)
def test_spec_violations_are_422_naming_the_field(pipeline, mutate, field, why):
    event = run_event(outputs=[dataset("features", version="md5:" + "0" * 32)])
    mutate(event)
    response = pipeline.post(URL, event, format="json")
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"] == "invalid_event"
    assert body["message"].startswith(f"$.{field}: ")
    assert why in body["message"]
    assert list(body["fields"]) == [field]
    assert LineageEvent.objects.count() == 0


def _bomb(inflated_mib: int) -> bytes:
    """A small gzip body that inflates to ``inflated_mib`` MiB of JSON-ish text."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [packer.compress(b'{"eventTime": "')]
    block = b"a" * (1024 * 1024)
    out += [packer.compress(block) for _ in range(inflated_mib)]
    out.append(packer.compress(b'"}') + packer.flush())
    return b"".join(out)


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"this is not json", {}, 400),
        (b'{"eventTime": "2026-01-01T00:00:00Z", "producer": "\xff\xfe"}', {}, 400),
        (b"", {}, 400),
        (b'{"eventTime": NaN}', {}, 400),
        (b"[" * 100000 + b"]" * 100000, {}, 400),
        (b"\x1f\x8b\x08\x00garbage", {"HTTP_CONTENT_ENCODING": "gzip"}, 400),
        (b"{}", {"HTTP_CONTENT_ENCODING": "br"}, 415),
        (b'"a string"', {}, 422),
        (json.dumps([run_event()]).encode(), {}, 400),
        (json.dumps(run_event(job="nul\u0000byte")).encode(), {}, 422),
    ],
    ids=[
        "not-json",
        "invalid-utf8",
        "empty",
        "nan",
        "deep-nesting",
        "bad-gzip",
        "unknown-encoding",
        "not-an-object",
        "array-to-single-endpoint",
        "nul-character",
    ],
)
def test_bad_bodies_are_4xx_and_store_nothing(pipeline, body, headers, status):
    response = post_raw(pipeline, body, **headers)
    assert response.status_code == status, response.content
    assert response.json()["status"] == status
    assert LineageEvent.objects.count() == 0


def test_ten_mebibytes_is_413(pipeline):
    event = run_event()
    event["run"]["facets"]["padding"] = facet("Padding", text="x" * (10 * 1024 * 1024))
    response = post_raw(pipeline, json.dumps(event).encode())
    assert response.status_code == 413
    assert LineageEvent.objects.count() == 0


def test_gzip_bomb_is_413_without_inflating_it_in_memory(pipeline, settings):
    bomb = _bomb(inflated_mib=200)
    assert len(bomb) < settings.GOVREG_LINEAGE_MAX_BODY_BYTES // 10
    tracemalloc.start()
    try:
        response = post_raw(pipeline, bomb, HTTP_CONTENT_ENCODING="gzip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413
    assert "inflated" in response.json()["message"]
    assert peak < 4 * settings.GOVREG_LINEAGE_MAX_BODY_BYTES  # not 200 MiB
    assert LineageEvent.objects.count() == 0


def test_limit_is_a_setting(pipeline, settings):
    settings.GOVREG_LINEAGE_MAX_BODY_BYTES = 200
    response = pipeline.post(URL, run_event(), format="json")
    assert response.status_code == 413


# --- batch -----------------------------------------------------------------------------


def test_batch_stores_the_valid_events_and_reports_the_others(pipeline):
    good = run_event(outputs=[dataset("features")])
    bad = run_event()
    bad["run"]["runId"] = ""
    response = pipeline.post(BATCH, [good, bad, good, "text"], format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "partial_success"
    assert body["summary"]["received"] == 4
    assert body["summary"]["successful"] == 2
    assert body["summary"]["failed"] == 2
    assert [f["index"] for f in body["failed_events"]] == [1, 3]
    assert "$.run.runId" in body["failed_events"][0]["reason"]
    assert body["failed_events"][0]["retriable"] is False
    assert LineageEvent.objects.count() == 1


def test_batch_all_valid_is_success(pipeline):
    response = pipeline.post(BATCH, [run_event(), run_event()], format="json")
    assert response.json()["status"] == "success"
    assert response.json()["failed_events"] == []
    assert LineageEvent.objects.count() == 2


def test_batch_needs_an_array(pipeline):
    response = pipeline.post(BATCH, run_event(), format="json")
    assert response.status_code == 400


# --- permissions -----------------------------------------------------------------------


def test_anonymous_is_401(client):
    response = client.post(URL, run_event(), content_type="application/json")
    assert response.status_code == 401
    assert client.get("/api/v1/namespaces").status_code == 401
    assert LineageEvent.objects.count() == 0


def test_anonymous_intake_can_be_allowed(client, settings):
    settings.GOVREG_LINEAGE_ALLOW_ANONYMOUS = True
    response = client.post(URL, run_event(), content_type="application/json")
    assert response.status_code == 201
    assert client.get("/api/v1/namespaces").status_code == 401  # reading still needs sign-in


def test_auditor_reads_but_may_not_write(auditor):
    api = token_client(auditor)
    assert api.post(URL, run_event(), format="json").status_code == 403
    assert api.get("/api/v1/namespaces").status_code == 200
    assert LineageEvent.objects.count() == 0


def test_read_only_token_may_not_write(pipeline_user):
    api = token_client(pipeline_user, read_only=True)
    assert api.post(URL, run_event(), format="json").status_code == 403
    assert api.get("/api/v1/events/lineage").status_code == 200


def test_engineers_of_any_team_write_and_read(owner, member, outsider):
    for user in (owner, member, outsider):
        api = token_client(user)
        assert (
            api.post(URL, run_event(job=f"job-{user.username}"), format="json").status_code == 201
        )
    api = token_client(outsider)
    listed = api.get("/api/v1/events/lineage").json()
    assert listed["totalCount"] == 3


def test_events_list_pages_and_filters_by_time(pipeline):
    for minute in range(5):
        pipeline.post(URL, run_event(minutes=minute), format="json")
    body = pipeline.get(
        "/api/v1/events/lineage",
        {"after": "2026-01-05T09:01:00Z", "before": "2026-01-05T09:03:00Z", "limit": 2},
    ).json()
    assert body["totalCount"] == 3
    assert [e["eventTime"][:16] for e in body["events"]] == ["2026-01-05T09:03", "2026-01-05T09:02"]
    assert pipeline.get("/api/v1/events/lineage", {"limit": "x"}).status_code == 400


def test_batch_events_sharing_datasets_keep_the_latest_facets(pipeline):
    from lineage.models import Dataset
    from tests.lineage.factories import schema_facet

    first = run_event(outputs=[dataset("features", schema=schema_facet("a"))])
    second = run_event(outputs=[dataset("features", schema=schema_facet("a", "b"))], minutes=5)
    response = pipeline.post(BATCH, [first, second], format="json")
    assert response.json()["summary"]["successful"] == 2
    fields = Dataset.objects.get(name="features").facets["schema"]["fields"]
    assert [f["name"] for f in fields] == ["a", "b"]


def test_an_event_with_thousands_of_datasets_is_stored(pipeline):
    """Lookups and inserts are chunked and flat: no expression-depth or parameter limits."""
    event = run_event(
        inputs=[dataset(f"in{i}", version=f"v{i}") for i in range(6000)],
        outputs=[dataset(f"out{i}") for i in range(6000)],
    )
    response = pipeline.post(URL, event, format="json")
    assert response.status_code == 201, response.content[:300]
    run = Run.objects.get()
    assert run.inputs.count() == 6000
    assert run.outputs.count() == 6000


def test_one_event_costs_a_bounded_number_of_round_trips(pipeline):
    """Every statement counts, those sent past Django's cursor included (PostgreSQL's
    multi-row statements; the raw event and the reads of what it names share one
    round trip there): a recurring run event of a known job and datasets."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def event(n):
        return run_event(
            job="etl",
            inputs=[dataset("raw", schema=schema_facet("id")), dataset("shared")],
            outputs=[dataset("clean", version="day-1")],
            minutes=n,
        )

    for n in range(2):  # the job, the datasets, the version and the job version exist
        assert pipeline.post(URL, event(n), format="json").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        response = pipeline.post(URL, event(5), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["stored"] is True
    sent = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    bound = 7 if connection.vendor == "postgresql" else 18
    assert len(sent) <= bound, "\n".join(s[:120] for s in sent)


@pytest.mark.parametrize("enabled", [True, False])
def test_batch_leaves_the_garbage_collector_as_it_found_it(pipeline, enabled):
    # the batch pauses the cyclic collector while it works (lineage.api.intake)
    was = gc.isenabled()
    if not enabled:
        gc.disable()
    try:
        assert pipeline.post(BATCH, [run_event()], format="json").status_code == 200
        assert post_raw(pipeline, b"[not json", url=BATCH).status_code == 400
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()
