"""Inputs that made a server error (issue 17): each is a 4xx with a JSON message naming
what to fix."""

import json

import pytest

from playbooks.services import incidents
from risk.models import RiskMatrix

pytestmark = pytest.mark.django_db


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def assert_names(response, status: int, field: str | None = None):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert body["status"] == status and body["message"]
    if field is not None:
        assert field in body["fields"], body
    return body


def test_deleting_a_playbook_an_incident_uses_is_a_conflict(client_for, owner, model, playbook):
    incidents.open_incident(
        model=model,
        title="drift",
        playbook_version=playbook.versions.get(number=playbook.current_version),
    )
    response = client_for(owner).delete(f"/api/playbooks/{playbook.pk}/")
    body = assert_names(response, 409)
    assert "incident" in body["message"]
    assert type(playbook).objects.filter(pk=playbook.pk).exists()


@pytest.mark.parametrize("chain", [True, 5, "ops", [5], [{"group": 5, "minutes": "x"}]])
@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_escalation_chain_of_the_wrong_type_is_a_400(client_for, owner, playbook, method, chain):
    client = client_for(owner)
    body = client.get(f"/api/playbooks/{playbook.pk}/").json() if method == "put" else {}
    body["escalation_chain"] = chain
    response = getattr(client, method)(f"/api/playbooks/{playbook.pk}/", body, format="json")
    assert_names(response, 400, "escalation_chain")


@pytest.mark.parametrize(
    "path", ["/api/risks/", "/api/signals/alertmanager", "/api/playbooks/", "/api/tokens/"]
)
def test_json_nested_ten_thousand_deep_is_a_400(client_for, owner, pipeline, path):
    client = client_for(pipeline if "signals" in path else owner)
    response = client.post(path, deep(10_000), content_type="application/json")
    body = assert_names(response, 400)
    assert "nested too deeply" in body["message"]


def test_json_constants_are_refused_by_every_endpoint(client_for, owner):
    response = client_for(owner).post(
        "/api/risks/", '{"title": NaN}', content_type="application/json"
    )
    assert_names(response, 400)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999", "Infinity"])
def test_classify_refuses_a_value_that_is_not_finite(client_for, owner, threshold, value):
    response = client_for(owner).get(f"/api/thresholds/{threshold.pk}/classify/?value={value}")
    assert_names(response, 400, "value")


def test_classify_still_answers_a_finite_value(client_for, owner, threshold):
    response = client_for(owner).get(f"/api/thresholds/{threshold.pk}/classify/?value=0.3")
    assert response.status_code == 200 and response.json()["classification"] == "critical"


@pytest.mark.parametrize("offset", ["9223372036854775807", "9223372036854775808", "1" + "0" * 40])
@pytest.mark.parametrize("path", ["/api/risks/", "/api/models/", "/api/deployments/"])
def test_a_huge_offset_is_an_empty_page(client_for, owner, risk, model, path, offset):
    response = client_for(owner).get(f"{path}?offset={offset}")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["results"] == []


def test_a_risk_without_a_matrix_when_no_default_exists_is_a_400(client_for, owner, team):
    RiskMatrix.objects.update(is_default=False)
    response = client_for(owner).post(
        "/api/risks/",
        {
            "title": "t",
            "category": "data-drift",
            "hypothesis": "h",
            "team": team.name,
            "owner": owner.username,
            "inherent_likelihood": 2,
            "inherent_impact": 2,
            "residual_likelihood": 1,
            "residual_impact": 1,
            "appetite": "low",
        },
        format="json",
    )
    assert_names(response, 400, "matrix")


ACCEPTANCE_BODIES = [
    {},
    [],
    "text",
    5,
    None,
    {"justification": 5},
    {"justification": ["a"]},
    {"justification": {"a": 1}},
    {"justification": "ok", "expires_at": 5},
    {"justification": "ok", "expires_at": "not a date"},
    {"justification": "ok", "expires_at": True},
    {"justification": "ok", "expires_at": "2026-13-45T00:00:00Z"},
    {"justification": "ok", "expires_at": "1900-01-01T00:00:00Z"},
    {"justification": "", "expires_at": "2099-01-01T00:00:00Z"},
    {"justification": "\u0000", "expires_at": "2099-01-01T00:00:00Z"},
    {"justification": "ok", "expires_at": "0001-01-01T00:00:00Z"},
    {"justification": "ok", "expires_at": "9999-12-31T23:59:59-14:00"},
    {"justification": "ok", "expires_at": "0001-01-01T00:00:00+14:00"},
    {"justification": "ok", "expires_at": None},
]


@pytest.mark.parametrize("body", ACCEPTANCE_BODIES, ids=lambda b: json.dumps(b)[:40])
def test_generated_acceptance_bodies_are_answered_4xx(client_for, owner, risk, body):
    response = client_for(owner).post(
        f"/api/risks/{risk.pk}/acceptances/", json.dumps(body), content_type="application/json"
    )
    assert 400 <= response.status_code < 500, response.content[:300]
    assert response.json()["message"]


@pytest.mark.parametrize("group", ["admin", "auditor"])
def test_an_escalation_chain_naming_a_role_reads_as_no_such_group(
    client_for, owner, playbook, group
):
    response = client_for(owner).patch(
        f"/api/playbooks/{playbook.pk}/",
        {"escalation_chain": [{"group": group, "minutes": 5}]},
        format="json",
    )
    body = assert_names(response, 400, "escalation_chain")
    assert body["fields"]["escalation_chain"] == [f"[0].group: no group named {group!r}"]


def test_a_second_acceptance_request_while_one_is_open_is_answered_4xx(client_for, owner, risk):
    client = client_for(owner)
    body = {"justification": "ok", "expires_at": "2099-01-01T00:00:00Z"}
    first = client.post(f"/api/risks/{risk.pk}/acceptances/", body, format="json")
    assert first.status_code == 201, first.json()
    second = client.post(f"/api/risks/{risk.pk}/acceptances/", body, format="json")
    assert 400 <= second.status_code < 500, second.content[:300]
    assert second.json()["message"]
