"""Issue #17 on the lineage read side: an invalid date or number in a query parameter
is a 400 with a JSON message naming the parameter, never a 500."""

import pytest

pytestmark = pytest.mark.django_db

HUGE = "9223372036854775808"
HUGER = "9" * 40
DIRECTED = ["/api/lineage/upstream", "/api/lineage/downstream"]


@pytest.mark.parametrize("url", DIRECTED)
@pytest.mark.parametrize("moment", ["2026-02-30", "2026-02-30T10:00:00Z", "2026-13-45T00:00:00Z"])
def test_an_impossible_as_of_date_names_the_parameter(pipeline, url, moment):
    answer = pipeline.get(url, {"nodeId": "job:pipelines:train", "asOf": moment})
    assert answer.status_code == 400
    assert "asOf" in answer.json()["fields"]


@pytest.mark.parametrize("name", ["before", "after"])
@pytest.mark.parametrize("moment", ["2026-13-45T00:00:00Z", "2026-02-30", "2026-02-30T25:00:00Z"])
def test_an_impossible_event_time_bound_names_the_parameter(pipeline, name, moment):
    answer = pipeline.get("/api/v1/events/lineage", {name: moment})
    assert answer.status_code == 400
    assert name in answer.json()["fields"]


@pytest.mark.parametrize("name", ["before", "after"])
def test_an_impossible_search_date_names_the_parameter(pipeline, name):
    answer = pipeline.get("/api/v1/search", {"q": "x", name: "2026-02-30"})
    assert answer.status_code == 400
    assert name in answer.json()["fields"]


@pytest.mark.parametrize("value", [HUGE, HUGER, "-" + HUGE])
@pytest.mark.parametrize("name", ["limit", "offset"])
def test_huge_page_numbers_on_the_events_list_are_capped(pipeline, name, value):
    answer = pipeline.get("/api/v1/events/lineage", {name: value})
    assert answer.status_code == 200
    assert answer.json() == {"events": [], "totalCount": 0}


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/namespaces",
        "/api/v1/jobs",
        "/api/v1/tags",
        "/api/v1/sources",
    ],
)
@pytest.mark.parametrize("value", [HUGE, HUGER, "1e999", "inf"])
@pytest.mark.parametrize("name", ["limit", "offset"])
def test_huge_page_numbers_on_lists_name_the_parameter(pipeline, url, name, value):
    answer = pipeline.get(url, {name: value})
    assert answer.status_code == 400
    assert name in answer.json()["fields"]


@pytest.mark.parametrize(
    ("url", "params", "name"),
    [
        ("/api/v1/search", {"q": "x"}, "limit"),
        ("/api/v1/lineage", {"nodeId": "job:a:b"}, "depth"),
        ("/api/v1/column-lineage", {"nodeId": "dataset:a:b"}, "depth"),
        ("/api/lineage/upstream", {"nodeId": "job:a:b"}, "depth"),
        ("/api/lineage/downstream", {"nodeId": "job:a:b"}, "depth"),
        ("/api/v1/runlineage/upstream", {"runId": "r"}, "depth"),
    ],
)
@pytest.mark.parametrize("value", [HUGE, HUGER, "1e999"])
def test_huge_numbers_on_queries_name_the_parameter(pipeline, url, params, name, value):
    answer = pipeline.get(url, {**params, name: value})
    assert answer.status_code == 400
    assert name in answer.json()["fields"]
