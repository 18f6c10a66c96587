"""Risks through the API: team scope (owner, member, outsider), appetite, review lists,
heatmap and query counts."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent
from risk.models import Risk
from tests.risk.factories import make_model, make_risk, make_version

pytestmark = pytest.mark.django_db


def new_risk_body(**extra):
    body = {
        "title": "refusal rate rises on long prompts",
        "category": "emergent-behaviour",
        "hypothesis": "past 8k tokens the model refuses benign requests more often",
        "team": "credit-risk",
        "owner": "olivia",
        "inherent_likelihood": 4,
        "inherent_impact": 4,
        "residual_likelihood": 3,
        "residual_impact": 3,
        "appetite": "low",
    }
    body.update(extra)
    return body


def test_member_registers_a_risk_with_links_and_levels(client_for, owner, member, team):
    model = make_model(team, name="support-llm")
    version = make_version(model)
    # the review date is set from the clock when the risk is saved: read the same clock on
    # both sides of the call, so the test holds when midnight falls during it
    before = timezone.localdate()
    response = client_for(member).post(
        "/api/risks/",
        new_risk_body(models=["support-llm"], model_versions=[version.pk]),
        format="json",
    )
    after = timezone.localdate()
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["inherent_level"] == "high" and body["residual_level"] == "medium"
    assert body["above_appetite"] is True
    assert body["models"] == ["support-llm"] and body["model_versions"] == [version.pk]
    assert body["next_review_date"] in {str(day + timedelta(days=90)) for day in (before, after)}
    risk = Risk.objects.get(pk=body["id"])
    assert AuditEvent.objects.filter(object_type="risk.risk", object_id=str(risk.pk)).exists()
    # the whole team may see and edit it
    assert (
        client_for(owner)
        .patch(f"/api/risks/{risk.pk}/", {"residual_likelihood": 1}, format="json")
        .json()["residual_level"]
        == "low"
    )


def test_outsider_sees_nothing_and_changes_nothing(client_for, owner, outsider, team):
    risk = make_risk(team, owner)
    client = client_for(outsider)
    assert client.get("/api/risks/").json()["results"] == []
    assert client.get(f"/api/risks/{risk.pk}/").status_code == 404
    assert client.patch(f"/api/risks/{risk.pk}/", {"title": "x"}, format="json").status_code == 404
    assert client.delete(f"/api/risks/{risk.pk}/").status_code == 404
    assert client.post(f"/api/risks/{risk.pk}/review/", {}, format="json").status_code == 404
    # and may not register risks for a team they are not in
    created = client.post("/api/risks/", new_risk_body(owner="oscar"), format="json")
    assert created.status_code in (400, 403)
    assert not Risk.objects.filter(owner=outsider).exists()


def test_anonymous_is_401(client, team, owner):
    make_risk(team, owner)
    assert client.get("/api/risks/").status_code == 401
    assert client.get("/api/risks/heatmap").status_code == 401


def test_auditor_reads_every_team(client_for, auditor, team, owner):
    make_risk(team, owner)
    assert len(client_for(auditor).get("/api/risks/").json()["results"]) == 1


def test_links_to_another_teams_model_read_as_missing(client_for, owner, other_team):
    make_model(other_team, name="fraud-scorer")
    response = client_for(owner).post(
        "/api/risks/", new_risk_body(models=["fraud-scorer"]), format="json"
    )
    assert response.status_code == 400
    assert "does not exist" in response.json()["fields"]["models"][0]


def test_owner_must_belong_to_the_team(client_for, owner, outsider):
    response = client_for(owner).post("/api/risks/", new_risk_body(owner="oscar"), format="json")
    assert response.status_code == 400
    assert "owner" in response.json()["fields"]


def test_off_matrix_scores_are_400_naming_the_field(client_for, owner):
    response = client_for(owner).post(
        "/api/risks/", new_risk_body(residual_impact=7), format="json"
    )
    assert response.status_code == 400
    assert "residual_impact" in response.json()["fields"]


def test_acceptance_is_not_a_field_you_can_set(client_for, owner, team):
    risk = make_risk(team, owner)
    response = client_for(owner).patch(
        f"/api/risks/{risk.pk}/", {"treatment": "accept"}, format="json"
    )
    assert response.status_code == 400
    assert "acceptance" in response.json()["fields"]["treatment"][0]


def test_appetite_check(team, owner):
    within = make_risk(team, owner, residual_likelihood=2, residual_impact=3, appetite="medium")
    above = make_risk(team, owner, residual_likelihood=4, residual_impact=3, appetite="medium")
    critical_ok = make_risk(
        team, owner, residual_likelihood=5, residual_impact=5, appetite="critical"
    )
    low_appetite = make_risk(team, owner, residual_likelihood=2, residual_impact=3, appetite="low")
    assert (within.residual_level, within.above_appetite) == ("medium", False)
    assert (above.residual_level, above.above_appetite) == ("high", True)
    assert critical_ok.above_appetite is False
    assert low_appetite.above_appetite is True
    assert set(Risk.objects.above_appetite()) == {above, low_appetite}


def test_review_filters_due_and_overdue(client_for, owner, team):
    today = timezone.localdate()
    due = make_risk(team, owner, next_review_date=today + timedelta(days=3))
    overdue = make_risk(team, owner, next_review_date=today - timedelta(days=1))
    make_risk(team, owner, next_review_date=today + timedelta(days=60))
    client = client_for(owner)
    assert [r["id"] for r in client.get("/api/risks/?review=due").json()["results"]] == [due.pk]
    assert [r["id"] for r in client.get("/api/risks/?review=overdue").json()["results"]] == [
        overdue.pk
    ]
    assert client.get("/api/risks/?review=soon").status_code == 400
    reviewed = client.post(f"/api/risks/{overdue.pk}/review/", {"notes": "ok"}, format="json")
    assert reviewed.status_code == 200
    assert reviewed.json()["review_state"] is None
    # the next review counts from the moment the review was recorded (the service's clock)
    reviewed_on = timezone.localdate(parse_datetime(reviewed.json()["last_reviewed_at"]))
    assert reviewed.json()["next_review_date"] == str(reviewed_on + timedelta(days=90))


def test_list_query_count_does_not_grow_with_rows(
    client_for, owner, team, django_assert_max_num_queries
):
    model = make_model(team)
    version = make_version(model)
    for _ in range(12):
        make_risk(team, owner, links={"ml_models": [model], "model_versions": [version]})
    client = client_for(owner)
    with django_assert_max_num_queries(16):
        response = client.get("/api/risks/")
    assert len(response.json()["results"]) == 12


def test_heatmap_counts_per_cell_filtered_by_team_and_model(
    client_for, owner, outsider, team, other_team
):
    model = make_model(team, name="support-llm")
    make_risk(
        team,
        owner,
        inherent_likelihood=5,
        inherent_impact=5,
        residual_likelihood=2,
        residual_impact=2,
        links={"ml_models": [model]},
    )
    make_risk(
        team,
        owner,
        inherent_likelihood=5,
        inherent_impact=5,
        residual_likelihood=3,
        residual_impact=2,
    )
    make_risk(team, owner, status="closed")
    outsider_risk = make_risk(other_team, outsider, inherent_likelihood=1, inherent_impact=1)
    assert outsider_risk.pk

    def cell(body, kind, likelihood, impact):
        return next(c for c in body[kind] if (c["likelihood"], c["impact"]) == (likelihood, impact))

    body = client_for(owner).get("/api/risks/heatmap").json()
    assert body["total"] == 2  # the closed one and the other team's are left out
    assert len(body["inherent"]) == 25
    assert cell(body, "inherent", 5, 5) == {
        "likelihood": 5,
        "impact": 5,
        "level": "critical",
        "count": 2,
    }
    assert cell(body, "residual", 2, 2)["count"] == 1
    assert cell(body, "residual", 3, 2)["count"] == 1
    assert cell(body, "inherent", 1, 1)["count"] == 0
    by_model = client_for(owner).get("/api/risks/heatmap?model=support-llm").json()
    assert by_model["total"] == 1
    assert client_for(owner).get("/api/risks/heatmap?team=fraud-detection").json()["total"] == 0
    assert client_for(owner).get("/api/risks/heatmap?status=all").json()["total"] == 3
    assert client_for(owner).get("/api/risks/heatmap?matrix=x").status_code == 400


def test_matrices_are_read_by_all_and_changed_by_admins_only(client_for, owner):
    client = client_for(owner)
    matrices = client.get("/api/risk-matrices/").json()["results"]
    assert matrices[0]["is_default"] is True
    pk = matrices[0]["id"]
    assert (
        client.patch(f"/api/risk-matrices/{pk}/", {"name": "x"}, format="json").status_code == 403
    )


def test_deleting_a_risk_with_thresholds_is_a_409(client_for, owner, team):
    from risk.models import Threshold

    risk = make_risk(team, owner)
    Threshold.objects.create(
        risk=risk,
        model_version=make_version(make_model(team)),
        metric="m",
        comparator="gt",
        warning_value=1,
        critical_value=2,
    )
    response = client_for(owner).delete(f"/api/risks/{risk.pk}/")
    assert response.status_code == 409
    assert "thresholds" in response.json()["message"]
    assert Risk.objects.filter(pk=risk.pk).exists()
    bare = make_risk(team, owner)
    assert client_for(owner).delete(f"/api/risks/{bare.pk}/").status_code == 204
