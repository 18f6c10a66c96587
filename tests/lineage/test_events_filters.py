"""Issue #11: the lineage events list reads its filters through a FilterSet and its
page through the Marquez pagination: a bad value is a 400 naming that parameter."""

import pytest

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/lineage"


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"before": "yesterday"}, "before", "not an ISO 8601 date-time"),
        ({"after": "2026-13-45T00:00:00Z"}, "after", "not an ISO 8601 date-time"),
        ({"limit": "x"}, "limit", "must be an integer"),
        ({"offset": "x"}, "offset", "must be an integer"),
    ],
)
def test_a_bad_value_names_its_parameter(pipeline, params, field, message):
    answer = pipeline.get(URL, params)
    assert answer.status_code == 400
    assert answer.json()["fields"] == {field: [message]}


def test_limits_out_of_range_are_capped_as_before(pipeline):
    body = pipeline.get(URL, {"limit": "-5", "offset": "-1"}).json()
    assert body == {"events": [], "totalCount": 0}
