"""Answers about outcomes: a decided request is not waited on, and an outcome is
reported only on an approved request."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.gate.conftest import ask

pytestmark = pytest.mark.django_db


POLL = re.compile(
    r'^SELECT "registry_deploymentrequest"\."status"( AS "status")?, '
    r'"registry_deploymentrequest"\."outcome"( AS "outcome")? FROM'
)


def polls(queries) -> int:
    """The wait loop's status reads (``SELECT status, outcome ... WHERE id = ...``)."""
    return sum(1 for q in queries if POLL.match(q["sql"]))


@pytest.mark.parametrize("decided", ["denied", "approved", "superseded", "deployed"])
def test_waiting_on_a_decided_request_answers_at_once(api, pipeline, version, alice, decided):
    client = api(pipeline)
    request_id = ask(client, version, "staging" if decided != "denied" else "production").json()[
        "id"
    ]
    if decided == "denied":
        api(alice).post(f"/api/deployment-requests/{request_id}/reject", {"comment": "no"})
    elif decided == "superseded":
        ask(client, version, "staging", new=True)
    elif decided == "deployed":
        client.post(f"/api/deployment-requests/{request_id}/deployed", {})

    with CaptureQueriesContext(connection) as queries:
        answer = client.get(f"/api/deployment-requests/{request_id}/", {"wait": 60})

    assert answer.status_code == 200
    assert answer.json()["status"] == ("approved" if decided == "deployed" else decided)
    assert polls(queries.captured_queries) == 0  # it never entered the wait loop


def test_failed_on_a_request_never_approved_is_a_conflict(api, pipeline, version, alice):
    client = api(pipeline)
    pending = ask(client, version).json()["id"]
    refused = client.post(f"/api/deployment-requests/{pending}/failed", {"note": "x"})
    assert refused.status_code == 409
    assert "pending" in refused.json()["message"]

    api(alice).post(f"/api/deployment-requests/{pending}/reject", {"comment": "card is stale"})
    denied = client.post(f"/api/deployment-requests/{pending}/failed", {"note": "x"})
    assert denied.status_code == 409
    assert "This request is denied, not approved" in denied.json()["message"]
    body = client.get(f"/api/deployment-requests/{pending}/").json()
    assert (body["status"], body["outcome"]) == ("denied", None)


def test_failed_twice_answers_the_same(api, pipeline, version):
    client = api(pipeline)
    request_id = ask(client, version, "staging").json()["id"]
    url = f"/api/deployment-requests/{request_id}/failed"
    first = client.post(url, {"note": "helm timeout"})
    second = client.post(url, {"note": "again"})
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["outcome"] == "failed"
    from audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="gate.failed", object_id=str(request_id)).count() == 1
