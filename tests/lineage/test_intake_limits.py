"""Hostile input on the lineage intake: values no JSON column holds, huge batches, chunked
bodies. Each answer is a 4xx with a JSON message naming the field, never a 500."""

import json

import pytest

from lineage.models import LineageEvent
from tests.lineage.factories import dataset, facet, run_event

pytestmark = pytest.mark.django_db
URL = "/api/v1/lineage"
BATCH = "/api/v1/lineage/batch"


def post_raw(client, body: bytes, url=URL, **headers):
    return client.generic("POST", url, body, content_type="application/json", **headers)


def _with_facet(raw_value: str) -> bytes:
    """An event whose ``run.facets.stats.value`` is ``raw_value``, written as JSON text."""
    event = run_event(run_facets={"stats": facet("Stats", value="PLACEHOLDER")})
    return json.dumps(event).replace('"PLACEHOLDER"', raw_value).encode()


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1.5E+400"])
def test_a_number_that_overflows_to_infinity_is_400_naming_the_field(pipeline, number):
    response = post_raw(pipeline, _with_facet(number))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["message"].startswith("$.run.facets.stats.value: ")
    assert "finite" in body["message"]
    assert list(body["fields"]) == ["run.facets.stats.value"]
    assert LineageEvent.objects.count() == 0


def test_a_large_but_finite_number_is_stored(pipeline):
    response = post_raw(pipeline, _with_facet("1e300"))
    assert response.status_code == 201, response.content
    # PostgreSQL's jsonb gives it back as the integer 10**300
    assert float(LineageEvent.objects.get().body["run"]["facets"]["stats"]["value"]) == 1e300


@pytest.mark.parametrize(
    "text", ['"\\ud800"', '"ok \\udfff then"', '"\\ud800\\ud800"'], ids=["high", "low", "two"]
)
def test_a_lone_surrogate_is_400_naming_the_field(pipeline, text):
    response = post_raw(pipeline, _with_facet(text))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["message"].startswith("$.run.facets.stats.value: ")
    assert "surrogate" in body["message"]
    assert LineageEvent.objects.count() == 0


def test_a_lone_surrogate_in_a_key_names_its_object(pipeline):
    body = json.dumps(run_event(run_facets={"stats": facet("Stats", k=1)})).replace(
        '"k"', '"\\ud800"'
    )
    response = post_raw(pipeline, body.encode())
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["run.facets.stats"]


def test_a_surrogate_pair_is_one_character_and_stored(pipeline):
    response = post_raw(pipeline, _with_facet('"\\ud83d\\ude00"'))
    assert response.status_code == 201, response.content
    assert LineageEvent.objects.get().body["run"]["facets"]["stats"]["value"] == "\U0001f600"


def test_in_a_batch_the_bad_values_are_reported_and_the_rest_stored(pipeline):
    good = run_event(outputs=[dataset("features")])
    body = (
        b"["
        + b", ".join([json.dumps(good).encode(), _with_facet("1e999"), _with_facet('"\\ud800"')])
        + b"]"
    )
    response = post_raw(pipeline, body, url=BATCH)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["summary"] == {
        "received": 3,
        "successful": 1,
        "failed": 2,
        "stored": 1,
        "duplicates": 0,
    }
    reasons = [f["reason"] for f in answer["failed_events"]]
    assert all(r.startswith("$.run.facets.stats.value: ") for r in reasons)
    assert LineageEvent.objects.count() == 1


def test_a_batch_above_the_cap_is_413_and_stores_nothing(pipeline, settings):
    settings.GOVREG_LINEAGE_MAX_BATCH_EVENTS = 5
    response = pipeline.post(BATCH, [run_event() for _ in range(6)], format="json")
    assert response.status_code == 413, response.content
    assert "GOVREG_LINEAGE_MAX_BATCH_EVENTS" in response.json()["message"]
    assert LineageEvent.objects.count() == 0
    assert pipeline.post(BATCH, [run_event() for _ in range(5)], format="json").status_code == 200


def test_failures_beyond_the_first_hundred_are_summarised(pipeline):
    bad = run_event()
    bad["run"]["runId"] = ""
    other = run_event()
    other["eventType"] = "FINISHED"
    events = [bad] * 150 + [other] * 30 + [run_event()]
    response = pipeline.post(BATCH, events, format="json")
    assert response.status_code == 200
    answer = response.json()
    assert answer["summary"]["failed"] == 180
    assert answer["summary"]["stored"] == 1
    assert [f["index"] for f in answer["failed_events"]] == list(range(100))
    assert answer["failed_events_not_listed"] == {
        "count": 80,
        "firstIndex": 100,
        "retriable": 0,
        "byField": {"$.run.runId": 50, "$.eventType": 30},
    }
    assert len(response.content) < 30_000


def test_a_batch_is_projected_in_chunks_with_the_same_answer(pipeline, settings):
    settings.GOVREG_LINEAGE_BATCH_CHUNK = 3
    bad = run_event()
    bad["run"]["runId"] = ""
    events = [run_event(outputs=[dataset(f"t{i}")], minutes=i) for i in range(7)]
    events.insert(4, bad)
    events.append(events[0])  # a replay, in another chunk
    answer = pipeline.post(BATCH, events, format="json").json()
    assert answer["summary"] == {
        "received": 9,
        "successful": 8,
        "failed": 1,
        "stored": 7,
        "duplicates": 1,
    }
    assert [f["index"] for f in answer["failed_events"]] == [4]
    assert LineageEvent.objects.count() == 7


def test_a_chunked_body_without_content_length_is_411(pipeline):
    response = post_raw(pipeline, b"", HTTP_TRANSFER_ENCODING="chunked")
    assert response.status_code == 411, response.content
    assert "Content-Length" in response.json()["message"]
    batch = post_raw(pipeline, b"", url=BATCH, HTTP_TRANSFER_ENCODING="chunked")
    assert batch.status_code == 411


@pytest.mark.parametrize(
    "moment", ["2026-13-45T00:00:00Z", "2026-02-30T09:00:00Z", "2026-01-05T25:00:00Z"]
)
def test_an_impossible_event_time_is_422_naming_the_field(pipeline, moment):
    event = run_event()
    event["eventTime"] = moment
    response = pipeline.post(URL, event, format="json")
    assert response.status_code == 422, response.content
    assert list(response.json()["fields"]) == ["eventTime"]
    assert "date-time" in response.json()["message"]
    batch = pipeline.post(BATCH, [event], format="json").json()
    assert batch["failed_events"][0]["reason"].startswith("$.eventTime: ")
    assert LineageEvent.objects.count() == 0
