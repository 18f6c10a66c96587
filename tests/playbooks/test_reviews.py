"""Post-incident reviews, action items that feed the register, and drills."""

from datetime import date, timedelta

import pytest

from audit.models import AuditEvent
from playbooks.models import ActionItem
from playbooks.services import incidents
from playbooks.services.playbooks import latest_version
from risk.models import ThresholdRecalibration
from tests.conftest import token_client
from tests.playbooks.conftest import T0


@pytest.fixture
def incident(model, playbook, deployment):
    return incidents.open_incident(
        model=model,
        title="PSI critical on loan-default",
        playbook_version=latest_version(playbook),
        links={"deployment": deployment, "model_version": deployment.model_version},
        now=T0,
    )


def _walk_to_resolved(incident, user):
    incidents.acknowledge(incident, user, now=T0 + timedelta(minutes=3))
    incidents.contain(incident, user, now=T0 + timedelta(minutes=20))
    incidents.resolve(incident, user, note="retrained", now=T0 + timedelta(days=1))


@pytest.mark.django_db
def test_a_critical_incident_closes_only_after_a_completed_review(incident, member):
    api = token_client(member)
    _walk_to_resolved(incident, member)

    refused = api.post(f"/api/incidents/{incident.pk}/close", {}, format="json")
    assert refused.status_code == 409
    assert "completed post-incident review" in refused.json()["message"]

    review = api.post(
        "/api/reviews/",
        {"incident": incident.pk, "summary": "Approval rates moved.", "root_cause": ""},
        format="json",
    )
    assert review.status_code == 201, review.json()
    rid = review.json()["id"]
    incomplete = api.post(f"/api/reviews/{rid}/complete", {}, format="json")
    assert incomplete.status_code == 400
    assert {"root_cause", "resolution", "lessons"} <= set(incomplete.json()["fields"])

    api.patch(
        f"/api/reviews/{rid}",
        {
            "root_cause": "Bureau feed changed an encoding.",
            "resolution": "Rolled back and retrained.",
            "lessons": "Alert on input drift too.",
        },
        format="json",
    )
    assert api.post(f"/api/reviews/{rid}/complete", {}, format="json").status_code == 200
    closed = api.post(f"/api/incidents/{incident.pk}/close", {}, format="json")
    assert closed.status_code == 200, closed.json()
    assert closed.json()["status"] == "closed"
    assert AuditEvent.objects.filter(action="incident.close", object_id=str(incident.pk)).exists()


@pytest.mark.django_db
def test_invalid_transitions_are_409(incident, member):
    api = token_client(member)
    assert api.post(f"/api/incidents/{incident.pk}/resolve", {}, format="json").status_code == 409
    assert api.post(f"/api/incidents/{incident.pk}/close", {}, format="json").status_code == 409
    assert (
        api.post(f"/api/incidents/{incident.pk}/acknowledge", {}, format="json").status_code == 200
    )
    again = api.post(f"/api/incidents/{incident.pk}/acknowledge", {}, format="json")
    assert again.status_code == 409
    assert "acknowledged" in again.json()["message"]


@pytest.mark.django_db
def test_steps_and_comments_land_on_the_timeline(incident, member):
    api = token_client(member)
    done = api.post(
        f"/api/incidents/{incident.pk}/steps/1/complete", {"note": "rolled back"}, format="json"
    )
    assert done.status_code == 200, done.json()
    step = done.json()["steps"][0]
    assert step["completed_by"] == member.username and step["note"] == "rolled back"
    assert done.json()["steps"][1]["completed_at"] is None
    assert (
        api.post(f"/api/incidents/{incident.pk}/steps/1/complete", {}, format="json").status_code
        == 409
    )
    out_of_range = api.post(f"/api/incidents/{incident.pk}/steps/9/complete", {}, format="json")
    assert out_of_range.status_code == 400 and "step" in out_of_range.json()["fields"]

    comment = api.post(
        f"/api/incidents/{incident.pk}/comments", {"text": "Ops informed."}, format="json"
    )
    assert comment.status_code == 201
    assert comment.json()["actor_name"] == member.username
    timeline = api.get(f"/api/incidents/{incident.pk}").json()["timeline"]
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("step") == 2  # the playbook start, then step 1
    assert kinds[-1] == "comment"


@pytest.mark.django_db
def test_action_items_recalibrate_a_threshold_and_update_a_risk_audited(
    incident, member, owner, threshold, risk
):
    api = token_client(member)
    _walk_to_resolved(incident, member)
    rid = api.post(
        "/api/reviews/",
        {
            "incident": incident.pk,
            "summary": "s",
            "root_cause": "r",
            "resolution": "x",
            "lessons": "l",
        },
        format="json",
    ).json()["id"]
    due = (date.today() + timedelta(days=14)).isoformat()
    recalibrate = api.post(
        "/api/action-items/",
        {
            "review": rid,
            "title": "Tighten the PSI threshold",
            "owner": owner.username,
            "due_date": due,
            "threshold": threshold.pk,
            "new_warning_value": 0.08,
            "new_critical_value": 0.2,
        },
        format="json",
    )
    assert recalibrate.status_code == 201, recalibrate.json()
    rerate = api.post(
        "/api/action-items/",
        {
            "review": rid,
            "title": "Drift monitoring on inputs lowers the likelihood",
            "owner": owner.username,
            "due_date": due,
            "risk": risk.pk,
            "new_residual_likelihood": 2,
        },
        format="json",
    )
    assert rerate.status_code == 201, rerate.json()
    half = api.post(
        "/api/action-items/",
        {
            "review": rid,
            "title": "x",
            "owner": owner.username,
            "due_date": due,
            "threshold": threshold.pk,
        },
        format="json",
    )
    assert half.status_code == 400 and "new_warning_value" in half.json()["fields"]

    done = api.post(
        f"/api/action-items/{recalibrate.json()['id']}/complete", {"note": "ok"}, format="json"
    )
    assert done.status_code == 200, done.json()
    threshold.refresh_from_db()
    assert (threshold.warning_value, threshold.critical_value) == (0.08, 0.2)
    recal = ThresholdRecalibration.objects.get(threshold=threshold)
    assert (recal.old_warning_value, recal.old_critical_value) == (0.1, 0.25)
    assert recal.source_type == "playbooks.actionitem"
    assert recal.source_id == str(recalibrate.json()["id"])
    assert recal.changed_by == member
    assert AuditEvent.objects.filter(
        action="risk.threshold.recalibrate", object_id=str(threshold.pk)
    ).exists()

    done = api.post(f"/api/action-items/{rerate.json()['id']}/complete", {}, format="json")
    assert done.status_code == 200, done.json()
    risk.refresh_from_db()
    assert (risk.residual_likelihood, risk.residual_impact) == (2, 3)
    update = AuditEvent.objects.filter(
        object_type="risk.risk", object_id=str(risk.pk), action="update"
    ).last()
    assert update.before["residual_likelihood"] == 3
    assert update.after["residual_likelihood"] == 2
    assert AuditEvent.objects.filter(action="risk.residual_update", object_id=str(risk.pk)).exists()
    assert done.json()["status"] == "done"
    assert done.json()["outcome"]["risk"]["before"] == {"likelihood": 3, "impact": 3}
    twice = api.post(f"/api/action-items/{rerate.json()['id']}/complete", {}, format="json")
    assert twice.status_code == 409


@pytest.mark.django_db
def test_a_drill_measures_times_and_turns_gaps_into_action_items(playbook, owner, member):
    api = token_client(owner)
    created = api.post(
        "/api/drills/",
        {
            "playbook": playbook.pk,
            "title": "Rollback drill Q2",
            "scheduled_for": "2026-06-01T09:00:00Z",
            "participants": [owner.username, member.username],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    did = created.json()["id"]
    assert created.json()["playbook_version"] == "drift-response v1"
    recorded = api.patch(
        f"/api/drills/{did}",
        {
            "status": "running",
            "started_at": "2026-06-01T09:00:00Z",
            "acknowledged_at": "2026-06-01T09:04:00Z",
            "contained_at": "2026-06-01T09:31:30Z",
        },
        format="json",
    )
    assert recorded.status_code == 200, recorded.json()
    assert recorded.json()["seconds_to_acknowledge"] == 240
    assert recorded.json()["seconds_to_contain"] == 1890

    backwards = api.patch(
        f"/api/drills/{did}", {"contained_at": "2026-06-01T08:00:00Z"}, format="json"
    )
    assert backwards.status_code == 400 and "contained_at" in backwards.json()["fields"]

    completed = api.post(
        f"/api/drills/{did}/complete",
        {
            "what_went_wrong": "The on-call did not know where the rollback button is.",
            "gaps": [
                {
                    "title": "Document the rollback command in the playbook",
                    "owner": member.username,
                    "due_date": "2026-06-15",
                }
            ],
        },
        format="json",
    )
    assert completed.status_code == 200, completed.json()
    assert completed.json()["status"] == "completed"
    assert [i["title"] for i in completed.json()["action_items"]] == [
        "Document the rollback command in the playbook"
    ]
    assert ActionItem.objects.get().drill_id == did

    stranger = api.post(
        "/api/drills/",
        {
            "playbook": playbook.pk,
            "title": "x",
            "scheduled_for": "2026-06-01T09:00:00Z",
            "participants": ["nobody-here"],
        },
        format="json",
    )
    assert stranger.status_code == 400 and "participants" in stranger.json()["fields"]


@pytest.mark.django_db
def test_a_close_incident_decision_right_names_who_may_close(incident, member, team):
    from registry.models import DecisionRight
    from tests.factories import UserFactory

    api = token_client(member)
    _walk_to_resolved(incident, member)
    incident.severity = "high"  # no review needed: only the decision right is in the way
    incident.save(update_fields=["severity"])
    DecisionRight.objects.create(
        action="close-incident",
        risk_tier="high",
        required_approvals=[{"role": "approver", "count": 1}],
        description="High-tier incidents are closed by an approver.",
    )
    refused = api.post(f"/api/incidents/{incident.pk}/close", {}, format="json")
    assert refused.status_code == 403
    assert "approver role" in refused.json()["message"]

    approver = UserFactory(username="april", groups=[team, "approver"])
    closed = token_client(approver).post(f"/api/incidents/{incident.pk}/close", {}, format="json")
    assert closed.status_code == 200, closed.json()
