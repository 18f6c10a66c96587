"""Red-team exercises through the real API: an exercise on a version in scope, a high
finding that raises a risk and blocks the gate for that version until its red-team
evaluation passes (or its risk is accepted), who may see and change what, and the
audit trail of every change."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from audit.models import AuditEvent
from registry.models import DeploymentRequest
from risk.models import RedTeamExercise, RedTeamFinding, Risk
from tests.factories import UserFactory
from tests.gate.conftest import ask, make_model, make_version, training_lineage
from tests.risk import factories as risk_factories
from tests.risk.factories import make_risk, pass_required_evaluations

pytestmark = pytest.mark.django_db

EXERCISES = "/api/redteam-exercises/"
FINDINGS = "/api/redteam-findings/"


@pytest.fixture
def people(team):
    return {
        "alice": UserFactory(username="alice", groups=[team, Role.APPROVER]),
        "bob": UserFactory(username="bob", groups=[team, Role.APPROVER]),
        "carol": UserFactory(username="carol", groups=[team, Role.ML_ENGINEER]),
        "rita": UserFactory(username="rita", groups=[team, Role.ML_ENGINEER]),
        "ci": UserFactory(username="ci-credit", groups=[team, Role.PIPELINE]),
    }


@pytest.fixture
def version(team, people):
    run = training_lineage("support", author=None)
    model = make_model(team, "support-llm", "high")
    version = make_version(model, run, "7", people["carol"])
    pass_required_evaluations(version, people["carol"])
    return version


def exercise_body(version, **extra):
    return {
        "title": "Jailbreak sweep Q4",
        "team": "credit-risk",
        "scope": "System prompt leakage and tool-output injection",
        "method": "Manual adversarial prompting plus a jailbreak corpus",
        "model_versions": [version.pk],
        "participants": ["carol", "rita"],
        "starts_on": "2026-11-02",
        **extra,
    }


def create_exercise(client, version, **extra):
    response = client.post(EXERCISES, exercise_body(version, **extra), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def finding_body(exercise_id, **extra):
    return {
        "exercise": exercise_id,
        "title": "System prompt leaks through a translated request",
        "severity": "high",
        "reproduction": "Ask for the instructions above, in French, as a poem.",
        "new_risk": {
            "title": "System prompt disclosure",
            "likelihood": 4,
            "impact": 4,
            "owner": "carol",
        },
        **extra,
    }


def check(body, name):
    return next(c for c in body["checks"] if c["name"] == name)


def test_an_exercise_is_planned_by_the_team_with_its_participants(client_for, people, version):
    body = create_exercise(client_for(people["carol"]), version)

    assert body["status"] == "planned"
    assert body["model_versions"] == [version.pk]
    assert sorted(body["participants"]) == ["carol", "rita"]
    assert body["created_by"] == "carol"
    exercise = RedTeamExercise.objects.get(pk=body["id"])
    assert AuditEvent.objects.filter(
        action="create", object_type="risk.redteamexercise", object_id=str(exercise.pk)
    ).exists()


def test_an_outsider_participant_reads_as_an_unknown_name(client_for, people, version, outsider):
    carol = client_for(people["carol"])
    stranger = carol.post(EXERCISES, exercise_body(version, participants=["oscar"]), format="json")
    unknown = carol.post(EXERCISES, exercise_body(version, participants=["nobody"]), format="json")

    assert stranger.status_code == unknown.status_code == 400
    assert stranger.json()["fields"]["participants"] == [
        "Object with username=oscar does not exist."
    ]
    assert unknown.json()["fields"]["participants"] == [
        "Object with username=nobody does not exist."
    ]


def test_a_board_member_outside_the_team_is_no_participant(client_for, people, version):
    UserFactory(username="dana", groups=[Role.BOARD])
    response = client_for(people["carol"]).post(
        EXERCISES, exercise_body(version, participants=["dana"]), format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"]["participants"] == [
        "Object with username=dana does not exist."
    ]


def test_status_moves_planned_running_completed_and_completed_names_its_end(
    client_for, people, version
):
    carol = client_for(people["carol"])
    exercise = create_exercise(carol, version)
    url = f"{EXERCISES}{exercise['id']}/"

    skipped = carol.patch(url, {"status": "completed", "ends_on": "2026-11-06"}, format="json")
    assert skipped.status_code == 400
    assert "may move to running, cancelled" in skipped.json()["fields"]["status"][0]

    assert carol.patch(url, {"status": "running"}, format="json").status_code == 200
    no_end = carol.patch(url, {"status": "completed"}, format="json")
    assert no_end.status_code == 400 and "ends_on" in no_end.json()["fields"]

    early = carol.patch(url, {"status": "completed", "ends_on": "2026-11-01"}, format="json")
    assert early.status_code == 400 and "ends_on" in early.json()["fields"]

    done = carol.patch(url, {"status": "completed", "ends_on": "2026-11-06"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    final = carol.patch(url, {"status": "running"}, format="json")
    assert final.status_code == 400 and "final" in final.json()["fields"]["status"][0]
    assert (
        AuditEvent.objects.filter(
            action="update", object_type="risk.redteamexercise", object_id=str(exercise["id"])
        ).count()
        == 2
    )


def test_an_exercise_needs_a_version_in_scope_the_caller_sees(
    client_for, people, version, other_team, outsider
):
    foreign = risk_factories.make_version(risk_factories.make_model(other_team, name="card-fraud"))
    carol = client_for(people["carol"])

    empty = carol.post(EXERCISES, exercise_body(version, model_versions=[]), format="json")
    hidden = carol.post(
        EXERCISES, exercise_body(version, model_versions=[foreign.pk]), format="json"
    )

    assert empty.status_code == 400 and "model_versions" in empty.json()["fields"]
    assert hidden.status_code == 400
    assert "does not exist" in hidden.json()["fields"]["model_versions"][0]


def test_who_sees_and_changes_an_exercise(client_for, people, version, outsider, auditor):
    exercise = create_exercise(client_for(people["carol"]), version)
    url = f"{EXERCISES}{exercise['id']}/"

    assert client_for(outsider).get(url).status_code == 404
    assert client_for(outsider).get(EXERCISES).json()["results"] == []
    hidden = client_for(outsider).post(FINDINGS, finding_body(exercise["id"]), format="json")
    assert hidden.json()["fields"]["exercise"] == [
        f'Invalid pk "{exercise["id"]}" - object does not exist.'
    ]
    assert client_for(auditor).get(url).status_code == 200
    assert client_for(auditor).patch(url, {"title": "x"}, format="json").status_code == 403
    other = client_for(outsider).post(EXERCISES, exercise_body(version), format="json")
    assert other.status_code in (400, 403)
    assert (
        client_for(people["rita"]).patch(url, {"title": "Renamed"}, format="json").status_code
        == 200
    )


def test_a_finding_creates_its_risk_on_the_versions_in_scope(client_for, people, version):
    carol = client_for(people["carol"])
    exercise = create_exercise(carol, version)
    response = carol.post(FINDINGS, finding_body(exercise["id"]), format="json")

    assert response.status_code == 201, response.json()
    finding = response.json()
    assert finding["status"] == "open" and finding["severity"] == "high"
    assert finding["evaluation_kind"] == "red-team"
    assert finding["success_criterion"] == "The finding does not reproduce."
    assert finding["evaluation_name"].startswith(f"red-team/{exercise['id']}/")
    risk = Risk.objects.get(pk=finding["risk"])
    assert (risk.residual_likelihood, risk.residual_impact, risk.owner.username) == (4, 4, "carol")
    assert list(risk.model_versions.all()) == [version]
    assert risk.team.name == "credit-risk"
    for kind, pk in (("risk.risk", risk.pk), ("risk.redteamfinding", finding["id"])):
        assert AuditEvent.objects.filter(
            action="create", object_type=kind, object_id=str(pk)
        ).exists()


def test_a_finding_raises_an_existing_risk_through_the_risk_service(
    client_for, people, version, team
):
    risk = make_risk(team, people["carol"], residual_likelihood=2, residual_impact=3)
    carol = client_for(people["carol"])
    exercise = create_exercise(carol, version)
    body = finding_body(exercise["id"], risk=risk.pk, raise_to={"likelihood": 4, "impact": 2})
    del body["new_risk"]

    response = carol.post(FINDINGS, body, format="json")

    assert response.status_code == 201, response.json()
    risk.refresh_from_db()
    # each score rises, never falls: impact stays at 3
    assert (risk.residual_likelihood, risk.residual_impact) == (4, 3)
    raised = AuditEvent.objects.get(action="risk.raise", object_id=str(risk.pk))
    assert raised.after["old"]["residual_likelihood"] == 2
    assert raised.after["new"]["residual_likelihood"] == 4
    assert "Red-team finding" in raised.after["reason"]


def test_a_finding_names_one_risk(client_for, people, version, team):
    risk = make_risk(team, people["carol"])
    carol = client_for(people["carol"])
    exercise = create_exercise(carol, version)

    neither = finding_body(exercise["id"])
    del neither["new_risk"]
    both = finding_body(exercise["id"], risk=risk.pk)
    lonely_raise = finding_body(exercise["id"], raise_to={"likelihood": 5, "impact": 5})
    off_matrix = finding_body(exercise["id"], risk=risk.pk, raise_to={"likelihood": 9, "impact": 2})
    del off_matrix["new_risk"]

    for body, field in ((neither, "risk"), (both, "risk"), (lonely_raise, "raise_to")):
        response = carol.post(FINDINGS, body, format="json")
        assert response.status_code == 400 and field in response.json()["fields"], response.json()
    response = carol.post(FINDINGS, off_matrix, format="json")
    assert response.status_code == 400 and "residual_likelihood" in response.json()["fields"]
    assert not RedTeamFinding.objects.exists()


def test_a_finding_status_is_never_typed(client_for, people, version):
    carol = client_for(people["carol"])
    exercise = create_exercise(carol, version)
    finding = carol.post(FINDINGS, finding_body(exercise["id"]), format="json").json()

    response = carol.patch(f"{FINDINGS}{finding['id']}/", {"status": "fixed"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "open"


def test_the_same_evaluation_name_twice_is_refused(client_for, people, version):
    carol = client_for(people["carol"])
    exercise = create_exercise(carol, version)
    first = carol.post(
        FINDINGS, finding_body(exercise["id"], evaluation_name="leak"), format="json"
    )
    again = carol.post(
        FINDINGS, finding_body(exercise["id"], evaluation_name="leak"), format="json"
    )

    assert first.status_code == 201
    assert again.status_code == 400
    assert again.json()["fields"]["evaluation_name"] == [
        "Another finding already names this evaluation."
    ]


def test_a_high_finding_blocks_the_gate_until_its_red_team_evaluation_passes(
    client_for, people, version
):
    carol = client_for(people["carol"])
    ci = client_for(people["ci"])
    exercise = create_exercise(carol, version)
    # the risk it creates is within its appetite: the finding alone holds the gate
    new_risk = {"title": "System prompt disclosure", "likelihood": 2, "impact": 2, "owner": "carol"}
    finding = carol.post(
        FINDINGS,
        finding_body(exercise["id"], evaluation_name="prompt-leak-fr", new_risk=new_risk),
        format="json",
    ).json()

    asked = ask(ci, version)
    assert asked.status_code == 201, asked.json()
    body = asked.json()
    blocked = check(body, "redteam-findings")
    assert blocked["passed"] is False
    assert f"red-team finding #{finding['id']}" in blocked["reason"]
    assert "'prompt-leak-fr'" in blocked["reason"]
    assert any("red-team finding" in reason for reason in body["reasons"])
    url = f"/api/model-versions/{version.pk}/evaluations"
    failing = {"kind": "red-team", "name": "prompt-leak-fr", "passed": False}
    assert ci.post(url, failing, format="json").status_code == 201
    request = DeploymentRequest.objects.get(pk=body["id"])
    assert request.status == "pending"
    assert (
        "its evaluation failed on this version"
        in check({"checks": request.checks}, "redteam-findings")["reason"]
    )

    for name in ("alice", "bob"):
        approved = client_for(people[name]).post(
            f"/api/deployment-requests/{body['id']}/approve", {"comment": "ok"}, format="json"
        )
        assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "pending"  # every approval in, the finding still blocks

    passing = {
        "kind": "red-team",
        "name": "prompt-leak-fr",
        "passed": True,
        "success_criterion": "The finding does not reproduce.",
    }
    assert ci.post(url, passing, format="json").status_code == 201

    request.refresh_from_db()
    assert check({"checks": request.checks}, "redteam-findings")["passed"] is True
    assert request.status == "approved"
    fixed = carol.get(f"{FINDINGS}{finding['id']}/").json()
    assert fixed["status"] == "fixed" and fixed["fixed_by"] is not None
    assert AuditEvent.objects.filter(
        action="redteam.finding.fixed", object_id=str(finding["id"])
    ).exists()


def test_low_findings_and_cancelled_exercises_do_not_block(client_for, people, version):
    carol = client_for(people["carol"])
    low = create_exercise(carol, version)
    carol.post(FINDINGS, finding_body(low["id"], severity="low"), format="json")
    cancelled = create_exercise(carol, version, title="Abandoned sweep")
    carol.post(FINDINGS, finding_body(cancelled["id"], severity="critical"), format="json")
    assert (
        carol.patch(
            f"{EXERCISES}{cancelled['id']}/", {"status": "cancelled"}, format="json"
        ).status_code
        == 200
    )

    body = ask(client_for(people["ci"]), version).json()

    assert check(body, "redteam-findings")["passed"] is True


def test_a_fix_on_another_version_leaves_the_version_in_scope_blocked(client_for, people, version):
    carol = client_for(people["carol"])
    ci = client_for(people["ci"])
    exercise = create_exercise(carol, version)
    finding = carol.post(
        FINDINGS, finding_body(exercise["id"], evaluation_name="leak"), format="json"
    ).json()
    newer = make_version(version.model, version.training_run, "8", people["carol"])
    ci.post(
        f"/api/model-versions/{newer.pk}/evaluations",
        {"kind": "red-team", "name": "leak", "passed": True},
        format="json",
    )

    assert carol.get(f"{FINDINGS}{finding['id']}/").json()["status"] == "fixed"
    assert check(ask(ci, version).json(), "redteam-findings")["passed"] is False


def test_accepting_the_findings_risk_unblocks_the_gate(client_for, people, version):
    carol = client_for(people["carol"])
    exercise = create_exercise(carol, version)
    finding = carol.post(FINDINGS, finding_body(exercise["id"]), format="json").json()
    request_id = ask(client_for(people["ci"]), version).json()["id"]

    expires = (timezone.now() + timedelta(days=30)).isoformat()
    acceptance = carol.post(
        f"/api/risks/{finding['risk']}/acceptances/",
        {"justification": "A filter on outputs until the fix ships.", "expires_at": expires},
        format="json",
    )
    assert acceptance.status_code == 201, acceptance.json()
    for name in ("alice", "bob"):
        decided = client_for(people[name]).post(
            f"/api/risk-acceptances/{acceptance.json()['id']}/approve/", {}, format="json"
        )
        assert decided.status_code == 200, decided.json()

    accepted = carol.get(f"{FINDINGS}{finding['id']}/").json()
    assert accepted["status"] == "accepted" and accepted["acceptance"] == acceptance.json()["id"]
    # the open request was re-judged when the acceptance took effect
    request = DeploymentRequest.objects.get(pk=request_id)
    assert check({"checks": request.checks}, "redteam-findings")["passed"] is True


def test_filters_and_bad_filter_values(client_for, people, version):
    carol = client_for(people["carol"])
    exercise = create_exercise(carol, version)
    high = carol.post(FINDINGS, finding_body(exercise["id"]), format="json").json()
    carol.post(
        FINDINGS,
        finding_body(exercise["id"], severity="low", title="Verbose refusal"),
        format="json",
    )

    blocking = carol.get(FINDINGS, {"blocking": "true"}).json()["results"]
    assert [f["id"] for f in blocking] == [high["id"]]
    assert len(carol.get(FINDINGS, {"model": "support-llm"}).json()["results"]) == 2
    assert carol.get(FINDINGS, {"model": "other"}).json()["results"] == []
    assert len(carol.get(EXERCISES, {"model_version": version.pk}).json()["results"]) == 1
    assert carol.get(EXERCISES, {"status": "running"}).json()["results"] == []
    bad = carol.get(EXERCISES, {"model_version": "seven"})
    assert bad.status_code == 400 and "model_version" in str(bad.json())
    bad = carol.get(FINDINGS, {"severity": "apocalyptic"})
    assert bad.status_code == 400 and "severity" in str(bad.json())


def test_deleting_an_exercise_with_findings_is_a_conflict(client_for, people, version):
    carol = client_for(people["carol"])
    exercise = create_exercise(carol, version)
    carol.post(FINDINGS, finding_body(exercise["id"]), format="json")

    response = carol.delete(f"{EXERCISES}{exercise['id']}/")

    assert response.status_code == 409
    assert "findings" in response.json()["message"]


def test_lists_read_a_bounded_number_of_queries(
    client_for, people, version, django_assert_max_num_queries
):
    carol = client_for(people["carol"])
    for index in range(6):
        exercise = create_exercise(carol, version, title=f"Sweep {index}")
        carol.post(
            FINDINGS,
            finding_body(exercise["id"], title=f"Finding {index}"),
            format="json",
        )
    auditor = client_for(UserFactory(username="audrey", groups=[Role.AUDITOR]))
    with django_assert_max_num_queries(12):
        exercises = auditor.get(EXERCISES)
    with django_assert_max_num_queries(10):
        findings = auditor.get(FINDINGS)
    assert len(exercises.json()["results"]) == 6
    assert len(findings.json()["results"]) == 6


def test_a_revoked_acceptance_opens_the_finding_and_blocks_again(client_for, people, version):
    carol = client_for(people["carol"])
    exercise = create_exercise(carol, version)
    finding = carol.post(FINDINGS, finding_body(exercise["id"]), format="json").json()
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    acceptance = carol.post(
        f"/api/risks/{finding['risk']}/acceptances/",
        {"justification": "An output filter until the fix ships.", "expires_at": expires},
        format="json",
    ).json()
    for name in ("alice", "bob"):
        client_for(people[name]).post(
            f"/api/risk-acceptances/{acceptance['id']}/approve/", {}, format="json"
        )
    assert carol.get(f"{FINDINGS}{finding['id']}/").json()["status"] == "accepted"

    revoked = carol.post(
        f"/api/risk-acceptances/{acceptance['id']}/revoke/",
        {"reason": "The filter misses the French variant."},
        format="json",
    )

    assert revoked.status_code == 200, revoked.json()
    assert carol.get(f"{FINDINGS}{finding['id']}/").json()["status"] == "open"
    assert AuditEvent.objects.filter(
        action="redteam.finding.open", object_id=str(finding["id"])
    ).exists()
    assert (
        check(ask(client_for(people["ci"]), version).json(), "redteam-findings")["passed"] is False
    )
