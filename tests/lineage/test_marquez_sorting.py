"""Marquez's ``sort`` and ``sortDirection`` on /api/v1/search and /api/v1/events/lineage,
and jobs' ``labels`` and ``tags`` from their facets (issue 14, point 8)."""

import pytest

from lineage.services import ingest_event
from tests.lineage.factories import dataset, facet, run_event

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


@pytest.fixture
def three_events():
    times = []
    for minutes, name in ((5, "loans_b"), (1, "loans_c"), (9, "loans_a")):
        event = run_event(job=name, minutes=minutes, outputs=[dataset(f"{name}_table")])
        ingest_event(event)
        times.append(event["eventTime"])
    return times


def event_times(client, **params):
    answer = client.get(f"{V1}/events/lineage", params)
    assert answer.status_code == 200, answer.content
    return [e["eventTime"] for e in answer.json()["events"]]


def test_events_are_newest_first_by_default_and_oldest_first_asked(pipeline, three_events):
    newest_first = sorted(three_events, reverse=True)
    assert event_times(pipeline) == newest_first
    assert event_times(pipeline, sortDirection="desc") == newest_first
    assert event_times(pipeline, sortDirection="asc") == sorted(three_events)
    assert event_times(pipeline, sortDirection="ASC", limit=1) == [min(three_events)]


def test_a_bad_sort_direction_names_the_parameter(pipeline):
    for url, params in (
        (f"{V1}/events/lineage", {"sortDirection": "sideways"}),
        (f"{V1}/search", {"q": "loans", "sortDirection": "up"}),
        (f"{V1}/search", {"q": "loans", "sort": "size"}),
    ):
        answer = pipeline.get(url, params)
        assert answer.status_code == 400
        assert set(answer.json()["fields"]) == {"sort" if "sort" in params else "sortDirection"}


def names(client, **params):
    answer = client.get(f"{V1}/search", {"q": "loans", "filter": "JOB", **params})
    assert answer.status_code == 200, answer.content
    return [r["name"] for r in answer.json()["results"]]


def test_search_sorts_by_name_either_way(pipeline, three_events):
    assert names(pipeline, sort="NAME") == ["loans_a", "loans_b", "loans_c"]
    assert names(pipeline, sort="name") == ["loans_a", "loans_b", "loans_c"]
    assert names(pipeline, sort="NAME", sortDirection="desc") == ["loans_c", "loans_b", "loans_a"]


def test_search_sorts_by_update_newest_first_unless_asked(pipeline, three_events):
    # ingested b, c, a: the last ingested was updated last
    assert names(pipeline) == ["loans_a", "loans_c", "loans_b"]
    assert names(pipeline, sort="updated_at") == ["loans_a", "loans_c", "loans_b"]
    assert names(pipeline, sort="UPDATE_AT", sortDirection="asc") == [
        "loans_b",
        "loans_c",
        "loans_a",
    ]


def test_a_jobs_tags_and_labels_come_from_its_facets(pipeline):
    event = run_event(job="tagged")
    event["job"]["facets"] = {
        "tags": facet(
            "TagsJobFacet",
            tags=[
                {"key": "PII", "value": "true", "source": "DBT"},
                {"key": "domain", "value": "credit", "source": "DBT"},
                {"key": 7},
            ],
        ),
        "labels": {"labels": ["nightly", "critical", 3]},
    }
    ingest_event(event)
    ingest_event(run_event(job="plain"))
    jobs = {j["name"]: j for j in pipeline.get(f"{V1}/namespaces/pipelines/jobs").json()["jobs"]}
    assert jobs["tagged"]["tags"] == ["PII", "domain:credit"]
    assert jobs["tagged"]["labels"] == ["critical", "nightly"]
    assert jobs["plain"]["tags"] == jobs["plain"]["labels"] == []
