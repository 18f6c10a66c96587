"""Deployments: one live per model and environment, history, rollbacks, what serves now."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from registry import services
from registry.gate.exceptions import ProtectedEnvironment
from registry.models import Deployment
from tests.registry.conftest import make_version
from tests.registry.shipping import approved_request, ship

pytestmark = pytest.mark.django_db


@pytest.fixture
def v2(model, chain, owner):
    return make_version(model, chain["training_run"], "2", user=owner)


def test_deploy_supersedes_the_live_one_and_audits(version, v2, production, owner):
    first = ship(version, production, owner)
    second = ship(v2, production, owner)
    first.refresh_from_db()
    assert first.state == "superseded"
    assert first.ended_at is not None
    assert second.state == "live"
    assert second.replaced == first
    assert not second.is_rollback
    assert AuditEvent.objects.filter(
        action="deployment.live", object_type="registry.deployment", object_id=str(second.pk)
    ).exists()
    assert list(services.live_deployments(version.model)) == [second]


def test_deploying_what_is_live_changes_nothing(version, staging, owner):
    first = services.deploy(version, staging, owner)
    assert services.deploy(version, staging, owner) == first
    assert Deployment.objects.count() == 1


def test_redeploying_an_earlier_version_is_a_rollback(version, v2, production, owner):
    first = ship(version, production, owner)
    second = ship(v2, production, owner)
    back = ship(version, production, owner)
    second.refresh_from_db()
    assert second.state == "rolled_back"
    assert back.is_rollback
    assert back.rollback_of == second
    assert back.replaced == second
    assert back.model_version == first.model_version
    assert AuditEvent.objects.filter(action="deployment.rollback", object_id=str(back.pk)).exists()


def test_rollback_service_restores_what_the_live_one_replaced(version, v2, staging, owner):
    services.deploy(version, staging, owner)
    services.deploy(v2, staging, owner)
    back = services.rollback(version.model, staging, owner)
    assert back.model_version == version
    assert back.is_rollback


def test_environments_are_independent(version, v2, staging, production, owner):
    ship(version, production, owner)
    services.deploy(v2, staging, owner)
    live = {
        d.environment.name: d.model_version.version
        for d in services.live_deployments(version.model)
    }
    assert live == {"staging": "2", "production": "1"}


def test_the_database_refuses_two_live_deployments(version, v2, production, owner):
    ship(version, production, owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(
            model=version.model,
            model_version=v2,
            environment=production,
            deployed_at=timezone.now(),
        )


def test_a_retired_version_cannot_be_deployed(version, staging, owner):
    services.change_version_status(version, "retired")
    with pytest.raises(ValidationError) as excinfo:
        services.deploy(version, staging, owner)
    assert "model_version" in excinfo.value.message_dict


def test_a_live_version_cannot_be_retired(version, staging, owner):
    services.deploy(version, staging, owner)
    with pytest.raises(ValidationError) as excinfo:
        services.change_version_status(version, "retired")
    assert "staging" in str(excinfo.value)


def test_api_deploys_to_staging_but_not_to_protected_production(
    client_for, owner, outsider, version
):
    client = client_for(owner)
    staged = client.post(
        "/api/deployments/", {"model_version": version.pk, "environment": "staging"}, format="json"
    )
    assert staged.status_code == 201, staged.json()
    assert staged.json()["state"] == "live"
    assert staged.json()["deployed_by"] == "olivia"
    refused = client.post(
        "/api/deployments/",
        {"model_version": version.pk, "environment": "production"},
        format="json",
    )
    assert refused.status_code == 403
    assert "environment" in refused.json()["fields"]
    stranger = client_for(outsider).post(
        "/api/deployments/", {"model_version": version.pk, "environment": "staging"}, format="json"
    )
    assert stranger.status_code == 400
    assert "model_version" in stranger.json()["fields"]
    unknown_env = client.post(
        "/api/deployments/", {"model_version": version.pk, "environment": "moon"}, format="json"
    )
    assert unknown_env.status_code == 400
    assert "environment" in unknown_env.json()["fields"]


def test_what_is_live_and_the_history(
    client_for, member, outsider, version, v2, production, staging, owner
):
    ship(version, production, owner)
    ship(v2, production, owner)
    services.deploy(version, staging, owner)
    client = client_for(member)

    live = client.get("/api/deployments/?live=true&environment=production").json()["results"]
    assert [(d["model"], d["version"], d["environment"]) for d in live] == [
        ("loan-default", "2", "production")
    ]
    history = client.get("/api/deployments/?model=loan-default&environment=production")
    assert [d["state"] for d in history.json()["results"]] == ["live", "superseded"]
    assert len(client.get("/api/deployments/?state=superseded").json()["results"]) == 1

    per_env = client.get(f"/api/models/{version.model_id}/live").json()
    assert per_env["model"] == "loan-default"
    served = {
        e["environment"]: e["deployment"] and e["deployment"]["version"]
        for e in per_env["environments"]
    }
    assert served == {"development": None, "staging": "1", "production": "2"}

    detail = client.get(f"/api/models/{version.model_id}/").json()
    assert {d["environment"]: d["version"] for d in detail["live"]} == {
        "staging": "1",
        "production": "2",
    }

    stranger = client_for(outsider)
    assert stranger.get("/api/deployments/").json()["results"] == []
    some = Deployment.objects.first()
    assert stranger.get(f"/api/deployments/{some.pk}/").status_code == 404


def test_rollback_and_end_through_the_api(client_for, owner, version, v2, staging):
    services.deploy(version, staging, owner)
    services.deploy(v2, staging, owner)
    client = client_for(owner)
    back = client.post(
        f"/api/models/{version.model_id}/rollback", {"environment": "staging"}, format="json"
    )
    assert back.status_code == 201, back.json()
    assert back.json()["version"] == "1"
    assert back.json()["is_rollback"] is True
    ended = client.post(
        f"/api/deployments/{back.json()['id']}/end", {"state": "failed"}, format="json"
    )
    assert ended.status_code == 200
    assert ended.json()["state"] == "failed"
    again = client.post(
        f"/api/deployments/{back.json()['id']}/end", {"state": "failed"}, format="json"
    )
    assert again.status_code == 400
    assert "state" in again.json()["fields"]


def test_deployments_cannot_be_edited_or_deleted(client_for, owner, version, staging):
    deployment = services.deploy(version, staging, owner)
    client = client_for(owner)
    assert (
        client.patch(f"/api/deployments/{deployment.pk}/", {"note": "x"}, format="json").status_code
        == 405
    )
    assert client.delete(f"/api/deployments/{deployment.pk}/").status_code == 405


def test_environments_are_seeded_and_readable(client_for, member):
    body = client_for(member).get("/api/environments/").json()["results"]
    assert [(e["name"], e["order"], e["protected"]) for e in body] == [
        ("development", 10, False),
        ("staging", 20, False),
        ("production", 30, True),
    ]
    refused = client_for(member).post(
        "/api/environments/", {"name": "canary", "order": 25}, format="json"
    )
    assert refused.status_code == 403


def test_admin_adds_an_environment_but_cannot_delete_a_used_one(
    client_for, version, staging, owner
):
    from tests.factories import UserFactory

    admin = client_for(UserFactory(username="root", groups=["admin"]))
    answer = admin.post("/api/environments/", {"name": "canary", "order": 25}, format="json")
    assert answer.status_code == 201, answer.json()
    clash = admin.post("/api/environments/", {"name": "canary2", "order": 25}, format="json")
    assert clash.status_code == 400
    assert "order" in clash.json()["fields"]
    services.deploy(version, staging, owner)
    used = admin.delete(f"/api/environments/{staging.pk}/")
    assert used.status_code == 409
    assert "deployment" in used.json()["message"]
    assert admin.delete(f"/api/environments/{answer.json()['id']}/").status_code == 204


def test_the_gate_links_its_request_and_a_second_request_is_a_redeploy(
    team, chain, staging, owner, client_for
):
    from registry.gate import services as gate
    from tests.registry.conftest import make_model

    # A minimal-tier model: no evaluations required, no approvals needed in staging.
    version = make_version(make_model(team, "faq-router", tier="minimal"), chain["training_run"])
    first = gate.create_request(model_version=version, environment=staging, user=owner)
    assert first.status == "approved", first.reasons
    first, created = gate.mark_deployed(first.pk, owner)
    assert created
    deployment = first.deployment
    assert deployment.deployment_request_id == first.pk
    assert services.deploy(version, staging, owner, deployment_request=first) == deployment

    second = gate.create_request(model_version=version, environment=staging, user=owner)
    second, _ = gate.mark_deployed(second.pk, owner)
    deployment.refresh_from_db()
    assert deployment.state == "superseded"
    assert second.deployment.replaced == deployment
    assert second.deployment.state == "live"
    assert not second.deployment.is_rollback

    body = client_for(owner).get(f"/api/deployments/{second.deployment.pk}/").json()
    assert body["deployment_request"] == second.pk


# --- production takes a version only through an approved request -----------------


def test_deploy_refuses_production_without_an_approved_request(version, v2, production, owner):
    """The service itself refuses, so the API, the admin, tasks and a Django shell
    all meet the same rule."""
    with pytest.raises(ProtectedEnvironment, match="production is protected"):
        services.deploy(version, production, owner)

    pending = approved_request(version, production, owner)
    pending.status = "pending"
    pending.save(update_fields=["status"])
    with pytest.raises(ProtectedEnvironment, match="is pending"):
        services.deploy(version, production, owner, deployment_request=pending)

    # an approval for another version proves nothing about this one
    other = approved_request(v2, production, owner)
    with pytest.raises(ProtectedEnvironment, match="exactly that version"):
        services.deploy(version, production, owner, deployment_request=other)

    # an object claiming "approved" is read again from the database under its lock
    pending.status = "approved"
    with pytest.raises(ProtectedEnvironment, match="is pending"):
        services.deploy(version, production, owner, deployment_request=pending)
    assert not Deployment.objects.filter(environment=production).exists()


def test_a_shipped_request_cannot_ship_again(version, v2, production, owner):
    first = ship(version, production, owner)
    request = first.deployment_request
    assert services.deploy(version, production, owner, deployment_request=request) == first
    ship(v2, production, owner)
    with pytest.raises(ProtectedEnvironment, match="has shipped already"):
        services.deploy(version, production, owner, deployment_request=request)


def test_rollback_service_refuses_a_protected_environment(version, v2, production, owner):
    ship(version, production, owner)
    live = ship(v2, production, owner)
    with pytest.raises(ProtectedEnvironment, match="rollback request the gate judges"):
        services.rollback(version.model, production, owner)
    live.refresh_from_db()
    assert live.state == "live"


def test_rollback_api_on_production_asks_the_gate(client_for, owner, version, v2, production):
    """POST /api/models/{id}/rollback on production opens a rollback request (202), and
    asking again returns the same open request; nothing is deployed by it."""
    ship(version, production, owner)
    live = ship(v2, production, owner)
    client = client_for(owner)
    url = f"/api/models/{version.model_id}/rollback"

    answer = client.post(url, {"environment": "production", "note": "drift"}, format="json")

    assert answer.status_code == 202, answer.json()
    body = answer.json()
    assert body["kind"] == "rollback"
    assert body["version"] == version.version and body["environment"] == "production"
    assert body["note"] == "drift"
    assert body["deployment"] is None
    assert body["status"] == "pending"
    assert body["required"] == [{"role": "approver", "count": 1, "have": 0, "missing": 1}]
    live.refresh_from_db()
    assert live.state == "live"
    assert Deployment.objects.filter(environment=production).count() == 2
    assert AuditEvent.objects.filter(action="gate.request", object_id=str(body["id"])).exists()

    again = client.post(url, {"environment": "production"}, format="json")
    assert again.status_code == 202
    assert again.json()["id"] == body["id"]
    fresh = client.post(url, {"environment": "production", "new": True}, format="json")
    assert fresh.status_code == 202 and fresh.json()["id"] != body["id"]
