"""Approvals are tied to what was approved: a change of lineage or card lapses them."""

from datetime import timedelta

import pytest

from audit.context import acting_as
from audit.models import AuditEvent
from registry.models import Approval, Deployment
from tests.gate.conftest import add_upstream_input, ask

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(api, pipeline, version, alice, bob):
    request_id = ask(api(pipeline), version).json()["id"]
    for approver in (alice, bob):
        api(approver).post(f"/api/deployment-requests/{request_id}/approve", {})
    assert api(pipeline).get(f"/api/deployment-requests/{request_id}/").json()["status"] == (
        "approved"
    )
    return request_id


def test_new_upstream_input_lapses_the_approvals(api, pipeline, approved, training_run, alice, bob):
    add_upstream_input(training_run, "loans/raw/late_bureau_extract")

    body = api(pipeline).get(f"/api/deployment-requests/{approved}/").json()

    assert body["status"] == "pending"
    assert any(r.startswith("approvals lapsed: lineage changed (lineage)") for r in body["reasons"])
    assert [a["valid"] for a in body["approvals"]] == [False, False]
    assert all("lineage changed" in a["lapse_reason"] for a in body["approvals"])
    assert body["required"][0]["have"] == 0
    lapse = AuditEvent.objects.get(action="gate.lapse", object_id=str(approved))
    assert lapse.after["changed"] == ["lineage"]
    # the lapsed approvals are kept for the record; the approvers may approve again
    url = f"/api/deployment-requests/{approved}/approve"
    assert api(alice).post(url, {}).json()["status"] == "pending"
    assert api(bob).post(url, {}).json()["status"] == "approved"
    assert Approval.objects.filter(request_id=approved).count() == 4


def test_deployed_re_evaluates_first(api, pipeline, approved, training_run):
    add_upstream_input(training_run, "loans/raw/late_bureau_extract")

    response = api(pipeline).post(f"/api/deployment-requests/{approved}/deployed", {})

    assert response.status_code == 409
    assert "approvals lapsed" in response.json()["message"]
    assert not Deployment.objects.exists()


def test_card_change_lapses_and_names_the_card(api, pipeline, approved, version):
    model = version.model
    model.known_limitations = "Also weak on applicants under 21."
    model.save()

    body = api(pipeline).get(f"/api/deployment-requests/{approved}/").json()

    assert body["status"] == "pending"
    assert any("lineage changed (card)" in r for r in body["reasons"])


def test_an_old_approval_expires(api, pipeline, approved):
    Approval.objects.filter(request_id=approved).update(
        created_at=Approval.objects.get(request_id=approved, approver__username="alice").created_at
        - timedelta(days=15)
    )

    body = api(pipeline).get(f"/api/deployment-requests/{approved}/").json()

    assert body["status"] == "pending"
    assert {a["lapse_reason"] for a in body["approvals"]} == {"approval expired after 14 days"}


def test_quarantined_training_data_denies(api, pipeline, approved, training_run, admin_user):
    from lineage.models import DatasetVersion
    from lineage.services import change_dataset_version

    upstream = DatasetVersion.objects.get(dataset__name="loans/raw/applications")
    change_dataset_version(upstream, actor=admin_user, status="quarantined")

    body = api(pipeline).get(f"/api/deployment-requests/{approved}/").json()

    assert body["status"] == "denied"
    assert any("quarantined" in r for r in body["reasons"])
    assert all(not a["valid"] for a in body["approvals"])


def test_every_step_is_in_the_audit_trail(api, pipeline, approved, training_run, alice, bob):
    with acting_as(pipeline):  # the pipeline's lineage event changes what was approved
        add_upstream_input(training_run, "loans/raw/late_bureau_extract")
    api(pipeline).get(f"/api/deployment-requests/{approved}/")
    for approver in (alice, bob):
        api(approver).post(f"/api/deployment-requests/{approved}/approve", {})
    api(pipeline).post(f"/api/deployment-requests/{approved}/deployed", {})

    actions = list(
        AuditEvent.objects.filter(object_type="registry.deploymentrequest", object_id=str(approved))
        .exclude(action__in=["create", "update"])
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        "gate.request",
        "gate.approve",
        "gate.checks",  # the approvals check now says who approved and who is missing
        "gate.approve",
        "gate.approved",
        "gate.lapse",
        "gate.pending",
        "gate.approve",
        "gate.checks",
        "gate.approve",
        "gate.approved",
        "gate.deployed",
    ]
    lapse = AuditEvent.objects.get(action="gate.lapse", object_id=str(approved))
    assert lapse.actor_username == "ci-credit"  # the lineage write that changed it
    approval = AuditEvent.objects.filter(action="gate.approve").last()
    assert approval.actor_username == "bob" and approval.after["approver"] == "bob"
