"""What an approval covers, with the risk register's real checks: evidence that
arrives (a missing evaluation, now passing) leaves approvals standing, so nobody
approves twice; a change of what the approver saw (training data, an evaluation
re-run or failing) lapses them. The decision page says so before the click."""

import pytest
from django.test import Client

from accounts.roles import Role
from audit.models import AuditEvent
from tests.factories import UserFactory
from tests.gate.conftest import add_upstream_input, ask, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(loan_model, training_run, carol):
    """loan-default@7 with no evaluation yet: this module posts them."""
    return make_version(loan_model, training_run, "7", carol)


@pytest.fixture
def dana(team):
    """The credit-risk team's reviewer (a reviewer is one of the caller's teammates)."""
    return UserFactory(username="dana", groups=[team, Role.BOARD])


def post(client, version, body):
    answer = client.post(f"/api/model-versions/{version.pk}/evaluations", body, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()


REVIEW = {"kind": "human-review", "name": "50 sampled cases", "passed": True, "reviewer": "dana"}


@pytest.fixture
def approved_while_review_missing(api, pipeline, version, alice, bob, dana):
    """Two approvers approved while the human review was still missing."""
    ci = api(pipeline)
    post(
        ci,
        version,
        [
            {"kind": "adversarial", "name": "prompt-injection", "passed": True},
            {"kind": "distributional-stress", "name": "long files", "passed": True},
        ],
    )
    request_id = ask(ci, version).json()["id"]
    for approver in (alice, bob):
        body = api(approver).post(f"/api/deployment-requests/{request_id}/approve", {}).json()
    assert body["status"] == "pending"
    assert any("Human review evaluation missing" in r for r in body["reasons"])
    return request_id


def test_missing_evidence_that_arrives_keeps_the_approvals(
    api, pipeline, version, approved_while_review_missing
):
    request_id = approved_while_review_missing
    post(api(pipeline), version, REVIEW)

    body = api(pipeline).get(f"/api/deployment-requests/{request_id}/").json()

    assert body["status"] == "approved", body["reasons"]
    assert [a["valid"] for a in body["approvals"]] == [True, True]
    assert not AuditEvent.objects.filter(action="gate.lapse").exists()
    arrived = AuditEvent.objects.get(action="gate.evidence", object_id=str(request_id))
    assert arrived.after["changed"] == ["evaluations"]
    assert len(arrived.after["approvals_kept"]) == 2


def test_changed_training_data_lapses_the_approvals(
    api, pipeline, version, training_run, approved_while_review_missing
):
    request_id = approved_while_review_missing
    add_upstream_input(training_run, "loans/raw/late_bureau_extract")
    post(api(pipeline), version, REVIEW)

    body = api(pipeline).get(f"/api/deployment-requests/{request_id}/").json()

    assert body["status"] == "pending"
    assert [a["valid"] for a in body["approvals"]] == [False, False]
    assert {a["lapse_reason"] for a in body["approvals"]} == {
        "approvals lapsed: lineage changed (lineage)"
    }
    lapse = AuditEvent.objects.get(action="gate.lapse", object_id=str(request_id))
    assert lapse.after["changed"] == ["lineage"]


@pytest.mark.parametrize(
    "result",
    [
        {"kind": "adversarial", "name": "prompt-injection", "passed": True},  # a re-run
        {"kind": "adversarial", "name": "jailbreak", "passed": False},  # a new failure
    ],
    ids=["re-run-of-a-passing-case", "new-failing-result"],
)
def test_an_evaluation_that_changes_what_was_seen_lapses_them(
    api, pipeline, version, approved_while_review_missing, result
):
    request_id = approved_while_review_missing
    post(api(pipeline), version, result)
    post(api(pipeline), version, REVIEW)

    body = api(pipeline).get(f"/api/deployment-requests/{request_id}/").json()

    assert [a["valid"] for a in body["approvals"]] == [False, False]
    assert {a["lapse_reason"] for a in body["approvals"]} == {
        "approvals lapsed: lineage changed (evaluations)"
    }


def test_the_decision_page_says_what_an_approval_covers(
    api, pipeline, version, approved_while_review_missing, team
):
    carl = UserFactory(username="carl", groups=[team, Role.APPROVER])
    browser = Client()
    browser.force_login(carl)

    page = browser.get(f"/requests/{approved_while_review_missing}/").content.decode()

    rule = page[page.index('id="lapse-rule"') :]
    rule = rule[: rule.index("</div>")]
    assert "It stays valid when missing evidence arrives" in rule
    assert "a required evaluation that is missing now is posted and passes" in rule
    assert "It lapses" in rule and "the training data" in rule and "re-run" in rule
    assert "after 14 days" in rule
    assert "Still failing now: required-evaluations." in rule
    # the rule comes before the buttons
    assert page.index('id="lapse-rule"') < page.index('name="approve"')
