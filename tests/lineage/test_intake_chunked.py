"""A chunked upload behind gunicorn (no Content-Length): answered 411 with a JSON message,
not read as an empty body (PostgreSQL, govreg behind gunicorn)."""

import json

import pytest
import requests

from accounts.services import issue_token
from lineage.models import LineageEvent
from tests.gunicorn import serve
from tests.lineage.factories import run_event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(transactional_db, tmp_path):
    with serve(tmp_path / "gunicorn.log", workers=1) as url:
        yield url


def test_a_chunked_body_is_411_and_a_sized_one_is_stored(server, pipeline_user):
    headers = {
        "Authorization": f"Bearer {issue_token(pipeline_user, name='chunked')[1]}",
        "Content-Type": "application/json",
    }
    body = json.dumps(run_event()).encode()
    chunked = requests.post(
        f"{server}/api/v1/lineage", data=iter([body[:100], body[100:]]), headers=headers
    )
    assert chunked.request.headers.get("Transfer-Encoding") == "chunked"
    assert chunked.status_code == 411, chunked.text[:300]
    assert "Content-Length" in chunked.json()["message"]
    assert LineageEvent.objects.count() == 0
    sized = requests.post(f"{server}/api/v1/lineage", data=body, headers=headers)
    assert sized.status_code == 201, sized.text[:300]
    assert LineageEvent.objects.count() == 1
