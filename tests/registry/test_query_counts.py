"""List endpoints cost the same number of queries for 3 rows as for 30."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import services
from registry.models import Environment
from tests.registry.conftest import make_model, make_version
from tests.registry.story import ds, emit_run, md5

pytestmark = pytest.mark.django_db


def fill(team, owner, start: int, count: int, training_run):
    staging = Environment.objects.get(name="staging")
    raw = emit_run(f"source_{start}", [], [ds(f"src/{start}", md5(str(start)))]).outputs.first()
    for i in range(start, start + count):
        model = make_model(team, f"model-{i:03d}")
        version = make_version(model, training_run, "1", user=owner)
        services.deploy(version, staging, owner)
        feature = services.register_feature(name=f"feature-{i:03d}", team=team)
        services.add_feature_version(
            feature=feature,
            version="1",
            definition_kind="expression",
            definition="sum(amount) over 30 days",
            source_dataset_versions=[raw.dataset_version],
        )


ENDPOINTS = [
    "/api/models/",
    "/api/model-versions/",
    "/api/deployments/",
    "/api/deployments/?live=true&environment=staging",
    "/api/features/",
    "/api/feature-versions/",
]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_list_queries_do_not_grow_with_rows(
    client_for, owner, team, chain, url, django_assert_max_num_queries
):
    client = client_for(owner)
    fill(team, owner, 0, 3, chain["training_run"])
    with CaptureQueriesContext(connection) as few:
        answer = client.get(url)
    assert answer.status_code == 200
    assert len(answer.json()["results"]) == 3

    fill(team, owner, 3, 27, chain["training_run"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        answer = client.get(url)
    assert len(answer.json()["results"]) == 30


def test_pages_count_right_without_a_count_query(client_for, owner, team, chain):
    client = client_for(owner)
    fill(team, owner, 0, 5, chain["training_run"])
    first = client.get("/api/models/?limit=2").json()
    assert first["count"] == 5
    assert [m["name"] for m in first["results"]] == ["model-000", "model-001"]
    assert first["next"] is not None
    last = client.get("/api/models/?limit=2&offset=4").json()
    assert last["count"] == 5
    assert last["next"] is None
    beyond = client.get("/api/models/?limit=2&offset=9").json()
    assert beyond["count"] == 5
    assert beyond["results"] == []
    exact = client.get("/api/models/?limit=5").json()
    assert exact["count"] == 5
    assert exact["next"] is None
    assert client.get("/api/models/?team=fraud-detection").json()["count"] == 0
