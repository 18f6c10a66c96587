"""The gate's story judged by every app's checks at once: the registry's, the risk
register's (required evaluations, risks within appetite) and the playbooks' (no open
critical incident), starting from a version with no evaluation yet (the conftest's
story version has its required evaluations passed)."""

import pytest

from accounts.roles import Role
from playbooks.models import Incident
from registry.gate.checks import registered_checks
from tests.factories import UserFactory
from tests.gate.conftest import ask, make_version

pytestmark = pytest.mark.django_db

EVERY_DEPLOY_CHECK = [
    "version-not-retired",
    "model-card-complete",
    "decision-right",
    "training-data-complete",
    "required-evaluations",
    "risks-within-appetite",
    "risks-monitored",
    "redteam-findings",
    "personal-data-safeguards",
    "no-open-critical-incident",
    "approvals-complete",
]


@pytest.fixture
def version(loan_model, training_run, carol):
    """loan-default@7 with no evaluation yet: this module posts them."""
    return make_version(loan_model, training_run, "7", carol)


@pytest.fixture
def dana(team):
    """The credit-risk team's reviewer (a reviewer is one of the caller's teammates)."""
    return UserFactory(username="dana", groups=[team, Role.BOARD])


def checks_of(answer: dict) -> dict[str, dict]:
    return {check["name"]: check for check in answer["checks"]}


def post_evaluations(client, version, dana):
    response = client.post(
        f"/api/model-versions/{version.pk}/evaluations",
        [
            {"kind": "adversarial", "name": "prompt-injection", "passed": True},
            {"kind": "distributional-stress", "name": "income shift", "passed": True},
            {
                "kind": "human-review",
                "name": "50 sampled files",
                "passed": True,
                "reviewer": "dana",
            },
        ],
        format="json",
    )
    assert response.status_code == 201, response.json()


def test_every_registered_check_judges_the_request(api, pipeline, version):
    answer = ask(api(pipeline), version).json()
    assert [name for name, _ in registered_checks("deploy")] == EVERY_DEPLOY_CHECK
    assert [check["name"] for check in answer["checks"]] == EVERY_DEPLOY_CHECK
    checks = checks_of(answer)
    assert answer["status"] == "pending"
    assert checks["required-evaluations"]["passed"] is False
    assert "Adversarial" in checks["required-evaluations"]["reason"]
    assert checks["risks-within-appetite"]["passed"] is True
    assert checks["risks-monitored"]["passed"] is True  # no linked risk at level high
    assert checks["redteam-findings"]["passed"] is True  # no exercise has it in scope
    assert checks["no-open-critical-incident"]["passed"] is True
    assert checks["approvals-complete"]["passed"] is False


def test_approved_once_every_app_is_satisfied(api, pipeline, version, alice, bob, dana):
    ci = api(pipeline)
    post_evaluations(ci, version, dana)
    request_id = ask(ci, version).json()["id"]
    assert (
        api(alice)
        .post(f"/api/deployment-requests/{request_id}/approve", {"comment": "ok"}, format="json")
        .json()["status"]
        == "pending"
    )
    approved = api(bob).post(
        f"/api/deployment-requests/{request_id}/approve", {"comment": "ok"}, format="json"
    )
    assert approved.status_code == 200, approved.json()
    answer = approved.json()
    assert answer["status"] == "approved", answer["reasons"]
    assert [check["name"] for check in answer["checks"]] == EVERY_DEPLOY_CHECK
    assert all(check["passed"] for check in answer["checks"])


def test_an_open_critical_incident_holds_an_otherwise_complete_request(
    api, pipeline, version, alice, bob, dana
):
    ci = api(pipeline)
    post_evaluations(ci, version, dana)
    open_incident = Incident.objects.create(
        title="PSI 0.31 on applicant income",
        severity="critical",
        model=version.model,
        model_version=version,
    )
    request_id = ask(ci, version).json()["id"]
    for approver in (alice, bob):
        api(approver).post(
            f"/api/deployment-requests/{request_id}/approve", {"comment": "ok"}, format="json"
        )
    answer = api(pipeline).get(f"/api/deployment-requests/{request_id}/").json()
    checks = checks_of(answer)
    assert answer["status"] != "approved"
    assert [name for name, check in checks.items() if not check["passed"]] == [
        "no-open-critical-incident"
    ]
    assert f"#{open_incident.pk}" in checks["no-open-critical-incident"]["reason"]
