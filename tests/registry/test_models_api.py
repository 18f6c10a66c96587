"""Models through the API, seen by their owner, a team member and an outsider."""

import pytest

from audit.models import AuditEvent
from tests.registry.conftest import CARD

pytestmark = pytest.mark.django_db


def model_body(**overrides):
    return {
        "name": "loan-default",
        "team": "credit-risk",
        "risk_tier": "high",
        "description": "Probability of default for consumer loans.",
        **CARD,
        **overrides,
    }


def test_owner_registers_a_model_and_the_team_reads_and_changes_it(
    client_for, owner, member, outsider
):
    created = client_for(owner).post("/api/models/", model_body(), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["id"] > 0
    assert body["team"] == "credit-risk"
    assert body["card_complete"] is True
    assert body["card_missing"] == []
    model_id = body["id"]

    teammate = client_for(member)
    detail = teammate.get(f"/api/models/{model_id}/")
    assert detail.status_code == 200
    assert detail.json()["versions"] == []
    assert detail.json()["live"] == []

    changed = teammate.patch(f"/api/models/{model_id}/", {"known_limitations": ""}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["card_complete"] is False
    assert changed.json()["card_missing"] == ["known_limitations"]
    assert AuditEvent.objects.filter(
        action="update", object_type="registry.mlmodel", object_id=str(model_id)
    ).exists()

    listed = teammate.get("/api/models/")
    assert [m["name"] for m in listed.json()["results"]] == ["loan-default"]

    stranger = client_for(outsider)
    assert stranger.get("/api/models/").json()["results"] == []
    assert stranger.get(f"/api/models/{model_id}/").status_code == 404
    assert stranger.get(f"/api/models/{model_id}/live").status_code == 404
    refused = stranger.patch(f"/api/models/{model_id}/", {"description": "x"}, format="json")
    assert refused.status_code == 404


def test_outsider_cannot_register_a_model_for_another_team(client_for, outsider, team):
    answer = client_for(outsider).post("/api/models/", model_body(), format="json")
    assert answer.status_code == 403
    assert "credit-risk" in answer.json()["message"]


def test_anonymous_gets_401(client):
    assert client.get("/api/models/").status_code == 401


def test_auditor_reads_every_model_but_cannot_change_one(client_for, owner, auditor):
    model_id = client_for(owner).post("/api/models/", model_body(), format="json").json()["id"]
    reader = client_for(auditor)
    assert [m["id"] for m in reader.get("/api/models/").json()["results"]] == [model_id]
    refused = reader.patch(f"/api/models/{model_id}/", {"description": "x"}, format="json")
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"risk_tier": "extreme"}, "risk_tier"),
        ({"name": "Not a slug!"}, "name"),
        ({"team": "no-such-team"}, "team"),
        ({"team": "admin"}, "team"),
        ({"description": ""}, "description"),
    ],
)
def test_bad_model_input_names_the_field(client_for, owner, overrides, field):
    answer = client_for(owner).post("/api/models/", model_body(**overrides), format="json")
    assert answer.status_code == 400
    assert field in answer.json()["fields"], answer.json()


def test_duplicate_model_name_is_a_400_naming_name(client_for, owner):
    client = client_for(owner)
    assert client.post("/api/models/", model_body(), format="json").status_code == 201
    again = client.post("/api/models/", model_body(), format="json")
    assert again.status_code == 400
    assert "name" in again.json()["fields"]


def test_filters_by_team_and_tier(client_for, auditor, model, other_model):
    reader = client_for(auditor)
    by_team = reader.get("/api/models/?team=fraud-detection").json()["results"]
    assert [m["name"] for m in by_team] == ["card-fraud"]
    by_tier = reader.get("/api/models/?tier=high").json()["results"]
    assert {m["name"] for m in by_tier} == {"card-fraud", "loan-default"}
    assert reader.get("/api/models/?risk_tier=minimal").json()["results"] == []


def test_a_model_with_versions_cannot_be_deleted(client_for, owner, version):
    answer = client_for(owner).delete(f"/api/models/{version.model_id}/")
    assert answer.status_code == 409
    assert "model version" in answer.json()["message"]
