"""The pipeline API of the gate: ask, approve, reject, report; who may do what."""

import pytest
from django.contrib.auth.models import Group
from guardian.shortcuts import assign_perm

from accounts.roles import Role
from audit.models import AuditEvent
from registry.models import Approval, Deployment, DeploymentRequest
from tests.gate.conftest import ask

pytestmark = pytest.mark.django_db


def check(body, name):
    return next(c for c in body["checks"] if c["name"] == name)


def test_request_is_pending_with_reasons_and_required_approvals(api, pipeline, version):
    response = ask(api(pipeline), version)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["model"] == "loan-default" and body["version"] == "7"
    assert body["environment"] == "production"
    assert body["required"] == [{"role": "approver", "count": 2, "have": 0, "missing": 2}]
    approvals = check(body, "approvals-complete")
    assert approvals["passed"] is False
    assert "2 more approver (2 required)" in approvals["reason"]
    assert check(body, "decision-right")["passed"] is True
    assert check(body, "training-data-complete")["passed"] is True
    assert any("2 more approver" in reason for reason in body["reasons"])
    assert len(body["fingerprint"]) == 64
    request = DeploymentRequest.objects.get(pk=body["id"])
    assert request.requested_by == pipeline
    assert AuditEvent.objects.filter(action="gate.request", object_id=str(request.pk)).exists()


def test_staging_needs_no_approval(api, pipeline, version):
    body = ask(api(pipeline), version, "staging").json()

    assert body["status"] == "approved"
    assert check(body, "approvals-complete")["reason"] == "No approval is required here."


def test_two_distinct_approvers_approve_a_high_tier_model(api, pipeline, version, alice, bob):
    request_id = ask(api(pipeline), version).json()["id"]

    first = api(alice).post(f"/api/deployment-requests/{request_id}/approve", {"comment": "ok"})
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "pending"
    assert first.json()["required"][0]["have"] == 1
    assert "1 more approver" in check(first.json(), "approvals-complete")["reason"]

    second = api(bob).post(f"/api/deployment-requests/{request_id}/approve", {}, format="json")
    body = second.json()
    assert body["status"] == "approved"
    assert [a["approver"] for a in body["approvals"]] == ["alice", "bob"]
    assert all(a["valid"] for a in body["approvals"])
    assert AuditEvent.objects.filter(action="gate.approve").count() == 2
    assert AuditEvent.objects.filter(action="gate.approved", object_id=str(request_id)).exists()


def test_one_person_cannot_approve_twice(api, pipeline, version, alice):
    request_id = ask(api(pipeline), version).json()["id"]
    url = f"/api/deployment-requests/{request_id}/approve"
    assert api(alice).post(url, {}).status_code == 200

    again = api(alice).post(url, {})

    assert again.status_code == 409
    assert "already decided" in again.json()["message"]
    assert Approval.objects.filter(request_id=request_id).count() == 1
    assert DeploymentRequest.objects.get(pk=request_id).status == "pending"


@pytest.mark.parametrize(
    ("who", "why"),
    [
        ("requester", "requested this deployment"),
        ("registrant", "registered this version"),
        ("author", "authored the training run"),
    ],
)
def test_separation_of_duties(api, team, pipeline, version, carol, tara, who, why):
    requester = pipeline
    if who == "requester":
        # An approver of the team asks for the deployment themself.
        requester = carol.__class__.objects.create(username="rita")
        requester.groups.add(team, Group.objects.get(name=Role.APPROVER))
    request_id = ask(api(requester), version).json()["id"]
    actor = {"requester": requester, "registrant": carol, "author": tara}[who]

    response = api(actor).post(f"/api/deployment-requests/{request_id}/approve", {})

    assert response.status_code == 403
    assert why in response.json()["message"]
    assert not Approval.objects.filter(request_id=request_id).exists()


def test_another_models_approver_is_refused(api, pipeline, version, frank, board_approver):
    request_id = ask(api(pipeline), version).json()["id"]
    url = f"/api/deployment-requests/{request_id}/approve"

    # frank approves fraud models; he cannot even see the credit request.
    assert api(frank).post(url, {}).status_code == 404
    # a board member sees every request but holds no approve right on this model.
    refused = api(board_approver).post(url, {})
    assert refused.status_code == 403
    assert "no approve right on model 'loan-default'" in refused.json()["message"]
    assert not Approval.objects.exists()


def test_an_admin_grants_the_approve_right_to_a_person(api, pipeline, version, board_approver, bob):
    request_id = ask(api(pipeline), version).json()["id"]
    assign_perm("registry.approve_mlmodel", board_approver, version.model)

    url = f"/api/deployment-requests/{request_id}/approve"
    assert api(board_approver).post(url, {}).status_code == 200
    assert api(bob).post(url, {}).json()["status"] == "approved"


def test_an_approver_without_the_role_is_refused(api, pipeline, version, member):
    request_id = ask(api(pipeline), version).json()["id"]

    response = api(member).post(f"/api/deployment-requests/{request_id}/approve", {})

    assert response.status_code == 403
    assert "approver role" in response.json()["message"]


def test_rejection_needs_a_comment_and_denies(api, pipeline, version, alice, bob):
    request_id = ask(api(pipeline), version).json()["id"]
    url = f"/api/deployment-requests/{request_id}/reject"

    missing = api(alice).post(url, {"comment": "  "}, format="json")
    assert missing.status_code == 400
    assert "comment" in missing.json()["fields"]

    response = api(alice).post(url, {"comment": "Bias audit is a quarter old."}, format="json")
    body = response.json()
    assert body["status"] == "denied"
    assert body["reasons"][0] == "rejected by alice: Bias audit is a quarter old."
    assert AuditEvent.objects.filter(action="gate.reject").exists()
    # denied is the end: no more approvals
    assert api(bob).post(f"/api/deployment-requests/{request_id}/approve", {}).status_code == 409


def test_deployed_only_when_approved_and_exactly_once(api, pipeline, version, alice, bob):
    client = api(pipeline)
    request_id = ask(client, version).json()["id"]
    url = f"/api/deployment-requests/{request_id}/deployed"

    early = client.post(url, {})
    assert early.status_code == 409
    assert "pending" in early.json()["message"]

    for approver in (alice, bob):
        api(approver).post(f"/api/deployment-requests/{request_id}/approve", {})
    first = client.post(url, {"note": "rolled out by argo"}, format="json")
    again = client.post(url, {})

    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json()["deployment"]["id"] == again.json()["deployment"]["id"]
    assert first.json()["outcome"] == "deployed"
    deployment = Deployment.objects.get()
    assert deployment.model_version == version
    assert deployment.environment.name == "production"
    assert DeploymentRequest.objects.get(pk=request_id).deployment == deployment
    assert AuditEvent.objects.filter(action="gate.deployed").count() == 1


def test_failed_report_keeps_the_request_approved(api, pipeline, version):
    client = api(pipeline)
    request_id = ask(client, version, "staging").json()["id"]

    failed = client.post(f"/api/deployment-requests/{request_id}/failed", {"note": "helm timeout"})
    assert failed.status_code == 200
    assert failed.json()["outcome"] == "failed"
    assert failed.json()["status"] == "approved"
    retried = client.post(f"/api/deployment-requests/{request_id}/deployed", {})
    assert retried.status_code == 201
    late = client.post(f"/api/deployment-requests/{request_id}/failed", {})
    assert late.status_code == 409


def test_unacceptable_tier_is_denied_by_policy(api, team, pipeline, training_run, carol):
    from tests.gate.conftest import make_model, make_version

    model = make_model(team, "social-scoring", "unacceptable")
    version = make_version(model, training_run, "1", carol)

    body = ask(api(pipeline), version, "staging").json()

    assert body["status"] == "denied"
    assert "Policy forbids" in check(body, "decision-right")["reason"]


def test_asking_for_unknown_things_names_the_field(api, pipeline, version, fraud_model):
    client = api(pipeline)
    assert "version" in ask(client, version, version="99").json()["fields"]
    assert "environment" in ask(client, version, "moon").json()["fields"]
    # another team's model reads as "does not exist"
    response = ask(client, version, model="card-fraud")
    assert response.status_code == 400
    assert "model" in response.json()["fields"]


def test_a_board_member_may_see_but_not_ask(api, pipeline, version, board_approver):
    response = ask(api(board_approver), version)
    assert response.status_code == 403


def test_anonymous_is_401(client, version):
    assert client.get("/api/deployment-requests/").status_code == 401


def test_detail_and_list_are_scoped_by_team(api, pipeline, owner, member, outsider, version):
    request_id = ask(api(pipeline), version).json()["id"]

    for user in (owner, member):
        assert api(user).get(f"/api/deployment-requests/{request_id}/").status_code == 200
        assert api(user).get("/api/deployment-requests/").json()["count"] == 1
    assert api(outsider).get(f"/api/deployment-requests/{request_id}/").status_code == 404
    assert api(outsider).get("/api/deployment-requests/").json()["count"] == 0


def test_list_filters(api, pipeline, version):
    client = api(pipeline)
    ask(client, version, "staging")
    ask(client, version, "production")

    assert client.get("/api/deployment-requests/?environment=staging").json()["count"] == 1
    assert client.get("/api/deployment-requests/?status=pending").json()["count"] == 1
    assert client.get("/api/deployment-requests/?model=loan-default").json()["count"] == 2
    assert client.get("/api/deployment-requests/?status=maybe").status_code == 400


def test_list_query_count_does_not_grow(
    api, pipeline, version, alice, django_assert_max_num_queries
):
    client = api(pipeline)
    for _ in range(2):
        request_id = ask(client, version, new=True).json()["id"]
        api(alice).post(f"/api/deployment-requests/{request_id}/approve", {})
    with django_assert_max_num_queries(12) as few:
        client.get("/api/deployment-requests/")
    baseline = len(few)
    for _ in range(6):
        request_id = ask(client, version, new=True).json()["id"]
        api(alice).post(f"/api/deployment-requests/{request_id}/approve", {})
    with django_assert_max_num_queries(baseline):
        assert client.get("/api/deployment-requests/").json()["count"] == 8


def test_wait_must_be_a_number_of_seconds_up_to_60(api, pipeline, version):
    client = api(pipeline)
    request_id = ask(client, version).json()["id"]

    for bad in ("soon", "-1", "61", "nan"):
        response = client.get(f"/api/deployment-requests/{request_id}/?wait={bad}")
        assert response.status_code == 400, bad
        assert "wait" in response.json()["fields"]
    assert client.get(f"/api/deployment-requests/{request_id}/?wait=0").status_code == 200


def test_one_judgement_reads_the_training_data_once(api, pipeline, version):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(pipeline)
    request_id = ask(client, version).json()["id"]
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/api/deployment-requests/{request_id}/").status_code == 200
    walks = [q for q in queries.captured_queries if "WITH RECURSIVE" in q["sql"]]
    assert len(walks) == 1


def test_an_approver_granted_one_model_sees_its_requests(
    api, pipeline, version, fraud_model, frank, board_approver
):
    from tests.factories import UserFactory

    request_id = ask(api(pipeline), version).json()["id"]
    outside_approver = UserFactory(username="olga", groups=[Role.APPROVER])
    assert api(outside_approver).get("/api/deployment-requests/").json()["count"] == 0

    assign_perm("registry.approve_mlmodel", outside_approver, version.model)

    listed = api(outside_approver).get("/api/deployment-requests/").json()
    assert [item["id"] for item in listed["results"]] == [request_id]
    assert api(outside_approver).get(f"/api/deployment-requests/{request_id}/").status_code == 200
    assert api(frank).get("/api/deployment-requests/").json()["count"] == 0
