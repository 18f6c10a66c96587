"""A re-run CI job asks the gate again: it gets the open request back, with the
approvals already given, instead of a new one in the board's queue."""

import pytest

from audit.models import AuditEvent
from registry.gate import services
from registry.models import DeploymentRequest
from tests.gate.conftest import ask
from tests.gate.test_cli import GOVREG, govreg, token_for

pytestmark = pytest.mark.django_db


def test_asking_again_returns_the_open_request_with_its_approvals(api, pipeline, version, alice):
    client = api(pipeline)
    first = ask(client, version)
    assert first.status_code == 201
    request_id = first.json()["id"]
    api(alice).post(f"/api/deployment-requests/{request_id}/approve", {"comment": "ok"})

    again = ask(client, version, pipeline_run_url="https://ci.example.com/credit/pipelines/413")

    assert again.status_code == 200, again.json()
    body = again.json()
    assert body["id"] == request_id
    assert [a["approver"] for a in body["approvals"]] == ["alice"]
    assert body["required"][0]["have"] == 1
    assert DeploymentRequest.objects.count() == 1
    asked = AuditEvent.objects.get(action="gate.asked_again", object_id=str(request_id))
    assert asked.after["pipeline_run_url"] == "https://ci.example.com/credit/pipelines/413"
    assert asked.after["asked_by"] == "ci-credit"


def test_an_approved_request_is_open_until_reported(api, pipeline, version, alice, bob):
    client = api(pipeline)
    request_id = ask(client, version).json()["id"]
    for approver in (alice, bob):
        api(approver).post(f"/api/deployment-requests/{request_id}/approve", {})

    again = ask(client, version)
    assert (again.status_code, again.json()["id"], again.json()["status"]) == (
        200,
        request_id,
        "approved",
    )

    client.post(f"/api/deployment-requests/{request_id}/deployed", {})
    after_deploy = ask(client, version)
    assert after_deploy.status_code == 201
    assert after_deploy.json()["id"] != request_id


def test_denied_and_failed_requests_are_closed(api, pipeline, version, alice):
    client = api(pipeline)
    denied = ask(client, version).json()["id"]
    api(alice).post(f"/api/deployment-requests/{denied}/reject", {"comment": "no"})
    staged = ask(client, version, "staging")
    assert staged.status_code == 201 and staged.json()["status"] == "approved"
    client.post(f"/api/deployment-requests/{staged.json()['id']}/failed", {"note": "timeout"})

    assert ask(client, version).status_code == 201  # the denied one stays denied
    retry = ask(client, version, "staging")
    assert retry.status_code == 201  # a failed rollout is asked for anew
    assert retry.json()["id"] != staged.json()["id"]


def test_new_supersedes_the_open_request(api, pipeline, version, alice):
    client = api(pipeline)
    old = ask(client, version).json()["id"]
    api(alice).post(f"/api/deployment-requests/{old}/approve", {})

    fresh = ask(client, version, new=True)

    assert fresh.status_code == 201
    new_id = fresh.json()["id"]
    assert new_id != old and fresh.json()["approvals"] == []
    superseded = client.get(f"/api/deployment-requests/{old}/").json()
    assert superseded["status"] == "superseded"
    assert superseded["superseded_by"] == new_id
    assert f"superseded by request #{new_id}" in superseded["reasons"][0]
    refused = api(alice).post(f"/api/deployment-requests/{old}/approve", {})
    assert refused.status_code == 409 and f"#{new_id}" in refused.json()["message"]
    assert client.post(f"/api/deployment-requests/{old}/deployed", {}).status_code == 409
    assert AuditEvent.objects.filter(action="gate.superseded", object_id=str(old)).exists()
    assert ask(client, version).json()["id"] == new_id


def test_a_rollback_and_a_deployment_of_one_version_are_separate_asks(api, pipeline, version):
    services.create_request(model_version=version, environment=_staging(), user=pipeline)
    assert ask(api(pipeline), version, "staging").status_code == 200
    refused = ask(api(pipeline), version, "staging", kind="rollback")
    # a rollback puts back a version that served there; this one never did
    assert refused.status_code == 400
    assert "never approved and live" in refused.json()["fields"]["version"][0]


def test_bad_kind_names_the_field(api, pipeline, version):
    answer = ask(api(pipeline), version, kind="hotfix")
    assert answer.status_code == 400 and "kind" in answer.json()["fields"]


@pytest.mark.skipif(not GOVREG.exists(), reason="the govreg console script is not installed")
def test_the_cli_says_whether_it_opened_or_follows_a_request(live_server, pipeline, version):
    token = token_for(pipeline)
    args = ("gate", "--model", "loan-default", "--version", "7", "--environment", "production")

    code, first, err = govreg(*args, token=token, url=live_server.url)
    assert code == 2, (first, err)
    request_id = DeploymentRequest.objects.get().pk
    assert f"opened deployment request #{request_id}" in first

    code, second, err = govreg(*args, token=token, url=live_server.url)
    assert code == 2, (second, err)
    assert f"asked again: following the open deployment request #{request_id}" in second
    assert DeploymentRequest.objects.count() == 1

    code, third, err = govreg(*args, "--new", token=token, url=live_server.url)
    assert code == 2, (third, err)
    newest = DeploymentRequest.objects.order_by("-pk").first()
    assert f"opened deployment request #{newest.pk} (the open one is superseded)" in third
    assert DeploymentRequest.objects.get(pk=request_id).status == "superseded"


def _staging():
    from registry.models import Environment

    return Environment.objects.get(name="staging")
