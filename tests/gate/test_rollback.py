"""Rollback through the gate: the credit team's loan model served version 7 in
production, then version 8; an ML engineer rolls back. Production takes version
7 again only through an approved rollback request, judged by the checks that
still apply to it (issue #10: the rollback used to deploy it directly, even
with its training data revoked)."""

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from lineage.models import DatasetVersion
from lineage.services import change_dataset_version
from registry import services as catalog
from registry.gate import services
from registry.gate.exceptions import ProtectedEnvironment
from registry.models import Deployment, DeploymentRequest
from tests.gate.conftest import ask, make_version, training_lineage
from tests.risk.factories import pass_required_evaluations

pytestmark = pytest.mark.django_db


def check(body, name):
    return next((c for c in body["checks"] if c["name"] == name), None)


def ship_through_the_gate(api, pipeline, version, approvers):
    client = api(pipeline)
    request_id = ask(client, version).json()["id"]
    for approver in approvers:
        api(approver).post(f"/api/deployment-requests/{request_id}/approve", {})
    answer = client.post(f"/api/deployment-requests/{request_id}/deployed", {})
    assert answer.status_code == 201, answer.json()
    return answer.json()["deployment"]["id"]


@pytest.fixture
def v8(loan_model, carol):
    v8 = make_version(loan_model, training_lineage("loans-8", author=None), "8", carol)
    pass_required_evaluations(v8, carol)
    return v8


@pytest.fixture
def history(api, pipeline, version, v8, alice, bob):
    """Version 7, then version 8, each shipped to production through the gate."""
    first = ship_through_the_gate(api, pipeline, version, (alice, bob))
    second = ship_through_the_gate(api, pipeline, v8, (alice, bob))
    return {"7": Deployment.objects.get(pk=first), "8": Deployment.objects.get(pk=second)}


def rollback(client, model, **body):
    return client.post(
        f"/api/models/{model.pk}/rollback", {"environment": "production", **body}, format="json"
    )


@pytest.mark.usefixtures("only_registry_checks")  # it names the registry's rollback checks
def test_a_rollback_is_a_request_one_approver_decides(
    api, owner, pipeline, alice, loan_model, version, history
):
    answer = rollback(api(owner), loan_model, note="PSI above 0.3 since version 8")

    assert answer.status_code == 202, answer.json()
    body = answer.json()
    assert (body["kind"], body["version"], body["status"]) == ("rollback", "7", "pending")
    assert body["requested_by"] == "olivia"
    # the rollback decision right: one approver, although the model is high tier
    assert body["required"] == [{"role": "approver", "count": 1, "have": 0, "missing": 1}]
    names = [c["name"] for c in body["checks"]]
    assert names == [
        "version-not-retired",
        "rollback-target",
        "decision-right",
        "training-data-complete",
        "approvals-complete",
    ]
    assert "Roll back to production" in check(body, "decision-right")["reason"]
    assert Deployment.objects.get(state="live").model_version.version == "8"

    approved = api(alice).post(f"/api/deployment-requests/{body['id']}/approve", {}).json()
    assert approved["status"] == "approved"
    shipped = api(pipeline).post(f"/api/deployment-requests/{body['id']}/deployed", {})

    assert shipped.status_code == 201, shipped.json()
    live = Deployment.objects.get(state="live")
    assert live.model_version == version and live.is_rollback
    assert live.rollback_of == history["8"]
    assert live.deployment_request_id == body["id"]
    history["8"].refresh_from_db()
    assert history["8"].state == "rolled_back"
    actions = list(
        AuditEvent.objects.filter(
            object_type="registry.deploymentrequest", object_id=str(body["id"])
        )
        .exclude(action__in=["create", "update"])
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["gate.request", "gate.approve", "gate.approved", "gate.deployed"]
    asked = AuditEvent.objects.get(action="gate.request", object_id=str(body["id"]))
    assert asked.after["kind"] == "rollback" and asked.after["note"].startswith("PSI")
    assert AuditEvent.objects.filter(action="deployment.rollback", object_id=str(live.pk)).exists()


def test_revoked_training_data_denies_the_rollback(
    api, owner, pipeline, loan_model, history, admin_user
):
    """The incident of issue #10: the previous version's training data was revoked."""
    revoked = DatasetVersion.objects.get(dataset__name="loans/raw/applications")
    change_dataset_version(revoked, actor=admin_user, status="revoked")

    answer = rollback(api(owner), loan_model)

    assert answer.status_code == 202
    body = answer.json()
    assert body["status"] == "denied"
    assert "revoked" in check(body, "training-data-complete")["reason"]
    assert body["deployment"] is None
    assert Deployment.objects.get(state="live").model_version.version == "8"
    refused = api(pipeline).post(f"/api/deployment-requests/{body['id']}/deployed", {})
    assert refused.status_code == 409 and "denied" in refused.json()["message"]


def test_a_retired_version_is_not_rolled_back_to(api, owner, loan_model, version, history):
    catalog.change_version_status(version, "retired", reason="superseded for good")

    body = rollback(api(owner), loan_model).json()

    assert body["status"] == "denied"
    assert check(body, "version-not-retired")["passed"] is False


def test_only_a_version_that_served_there_is_rolled_back_to(api, pipeline, loan_model, carol):
    never = make_version(loan_model, training_lineage("loans-9", author=None), "9", carol)

    answer = ask(api(pipeline), never, kind="rollback")

    assert answer.status_code == 400
    assert "never approved and live in production" in answer.json()["fields"]["version"][0]
    assert not DeploymentRequest.objects.exists()


def test_the_requester_may_not_approve_their_own_rollback(api, alice, bob, loan_model, history):
    body = rollback(api(alice), loan_model).json()  # alice is on the team
    refused = api(alice).post(f"/api/deployment-requests/{body['id']}/approve", {})
    assert refused.status_code == 403 and "Separation of duties" in refused.json()["message"]
    assert api(bob).post(f"/api/deployment-requests/{body['id']}/approve", {}).json()["status"] == (
        "approved"
    )


def test_no_path_deploys_around_the_gate(owner, loan_model, version, production, history):
    """The Django shell and the services the admin, tasks and demo use meet the rule."""
    with pytest.raises(ProtectedEnvironment):
        catalog.deploy(version, production, owner)
    with pytest.raises(ProtectedEnvironment):
        catalog.rollback(loan_model, production, owner)
    denied = DeploymentRequest.objects.filter(model_version=version).first()
    with pytest.raises(ProtectedEnvironment, match="has shipped already"):
        catalog.deploy(version, production, owner, deployment_request=denied)
    assert Deployment.objects.get(state="live").model_version.version == "8"


def test_the_admin_offers_no_way_to_deploy(admin_client, history):
    for url in ("/admin/registry/deployment/add/", "/admin/registry/deploymentrequest/add/"):
        assert admin_client.get(url).status_code == 403, url
    deployment = history["8"]
    answer = admin_client.post(
        f"/admin/registry/deployment/{deployment.pk}/change/", {"state": "rolled_back"}
    )
    assert answer.status_code == 403
    deployment.refresh_from_db()
    assert deployment.state == "live"


def test_unprotected_rollback_still_deploys_at_once(api, owner, loan_model, version, v8, staging):
    catalog.deploy(version, staging, owner)
    catalog.deploy(v8, staging, owner)

    answer = api(owner).post(
        f"/api/models/{loan_model.pk}/rollback", {"environment": "staging"}, format="json"
    )

    assert answer.status_code == 201, answer.json()
    assert answer.json()["version"] == "7" and answer.json()["is_rollback"] is True


def test_containment_asks_for_a_rollback_request(owner, version, history, production):
    """The service containment calls (playbooks) makes the rollback kind, once."""
    first, created = services.request_rollback(
        model_version=version, environment=production, user=owner, note="incident #1"
    )
    again, created_again = services.request_rollback(
        model_version=version, environment=production, user=owner
    )
    assert (first.kind, created, again.pk, created_again) == ("rollback", True, first.pk, False)
    with pytest.raises(ValidationError):
        services.request_rollback(
            model_version=history["8"].model_version, environment=production, user=owner
        )


def test_production_stays_protected_once_versions_served_there(
    admin_client, api, production, history
):
    """Unprotecting production, deploying and protecting it again would go around the
    gate: neither the admin nor the API may unprotect it."""
    from tests.factories import UserFactory

    root = api(UserFactory(username="root", groups=["admin"]))
    answer = root.patch(f"/api/environments/{production.pk}/", {"protected": False}, format="json")
    assert answer.status_code == 400 and "protected" in answer.json()["fields"]
    page = admin_client.post(
        f"/admin/registry/environment/{production.pk}/change/",
        {"name": "production", "order": 30, "protected": "", "description": ""},
    )
    assert page.status_code == 200 and b"it stays protected" in page.content
    production.refresh_from_db()
    assert production.protected
