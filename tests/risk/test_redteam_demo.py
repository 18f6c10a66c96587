"""The demo's red-team chapter: an exercise on loan-default@3 whose high finding held
@3's production request until the fix's red-team test passed."""

import pytest

from accounts import demo as accounts_demo
from audit.models import AuditEvent
from registry.models import DeploymentRequest
from risk.demo import REDTEAM_EXERCISE, REDTEAM_FINDING, REDTEAM_RISK, REDTEAM_TEST
from risk.models import RedTeamExercise
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def redteam_check(checks):
    return next(c for c in checks if c["name"] == "redteam-findings")


def test_the_finding_held_the_request_until_its_red_team_test_passed():
    accounts_demo.run_all()

    exercise = RedTeamExercise.objects.get(title=REDTEAM_EXERCISE)
    assert exercise.status == "completed" and exercise.ends_on is not None
    assert [str(v) for v in exercise.model_versions.all()] == ["loan-default@3"]
    assert [u.username for u in exercise.participants.all()] == ["engineer"]
    finding = exercise.findings.get()
    assert (finding.title, finding.severity, finding.status) == (REDTEAM_FINDING, "high", "fixed")
    assert finding.risk.title == REDTEAM_RISK and not finding.risk.above_appetite
    assert finding.fixed_by.name == REDTEAM_TEST and finding.fixed_by.passed

    request = DeploymentRequest.objects.get(
        model_version=finding.fixed_by.model_version, environment__name="production"
    )
    # asked on day 1 while the finding was open: the check named it
    events = AuditEvent.objects.filter(
        object_type="registry.deploymentrequest", object_id=str(request.pk)
    ).order_by("seq")
    first = next(e for e in events if e.after and "checks" in e.after)
    held = redteam_check(first.after["checks"])
    assert held["passed"] is False and REDTEAM_FINDING in held["reason"]
    # the fix's passing test re-judged it: the finding no longer holds it, the rest does
    assert redteam_check(request.checks)["passed"] is True
    assert request.status == "pending"
    assert not any("red-team" in reason for reason in request.reasons)
    assert [a.approver.username for a in request.approvals.filter(lapsed_at__isnull=True)] == [
        "approver"
    ]


def test_the_dossier_of_loan_default_3_shows_the_exercise_and_its_finding(django_user_model):
    accounts_demo.run_all()
    auditor = token_client(django_user_model.objects.get(username="auditor"))

    document = auditor.get("/api/models/loan-default/dossier", {"version": "3"}).json()

    point = next(p for p in document["points"] if p["point"] == 2)
    section = next(s for s in point["sections"] if s["key"] == "risk.redteam")
    exercises, findings = section["tables"]
    assert [row["exercise"] for row in exercises["rows"]] == [REDTEAM_EXERCISE]
    assert exercises["rows"][0]["status"] == "completed"
    [row] = findings["rows"]
    assert (row["finding"], row["severity"], row["status"]) == (REDTEAM_FINDING, "high", "fixed")
    assert row["risk"] == REDTEAM_RISK and row["evaluation"].startswith(REDTEAM_TEST)
