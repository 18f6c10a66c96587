"""Who sees and acts on incidents, playbooks, reviews and action items: the owning
team does; another team gets 404s and empty lists; anonymous gets 401; global
readers see but cannot act."""

from datetime import timedelta

import pytest

from playbooks.services import incidents
from playbooks.services.playbooks import latest_version
from tests.conftest import token_client
from tests.playbooks.conftest import STEPS, T0


@pytest.fixture
def incident(model, playbook):
    return incidents.open_incident(
        model=model, title="PSI critical", playbook_version=latest_version(playbook), now=T0
    )


@pytest.mark.django_db
def test_owner_and_member_see_and_act_outsider_sees_nothing(
    incident, owner, member, outsider, auditor, client
):
    for user in (owner, member):
        api = token_client(user)
        assert [i["id"] for i in api.get("/api/incidents/").json()["results"]] == [incident.pk]
        assert api.get(f"/api/incidents/{incident.pk}").status_code == 200

    stranger = token_client(outsider)
    assert stranger.get("/api/incidents/").json()["count"] == 0
    assert stranger.get(f"/api/incidents/{incident.pk}").status_code == 404
    assert (
        stranger.post(f"/api/incidents/{incident.pk}/acknowledge", {}, format="json").status_code
        == 404
    )
    assert (
        stranger.post(
            f"/api/incidents/{incident.pk}/comments", {"text": "hi"}, format="json"
        ).status_code
        == 404
    )
    assert stranger.get("/api/playbooks/").json()["count"] == 0
    assert client.get("/api/incidents/").status_code == 401

    reader = token_client(auditor)
    assert reader.get(f"/api/incidents/{incident.pk}").status_code == 200
    assert (
        reader.post(f"/api/incidents/{incident.pk}/acknowledge", {}, format="json").status_code
        == 403
    )

    acted = token_client(member).post(
        f"/api/incidents/{incident.pk}/acknowledge", {}, format="json"
    )
    assert acted.status_code == 200
    assert acted.json()["acknowledged_by"] == member.username


@pytest.mark.django_db
def test_an_outsider_cannot_open_incidents_on_or_name_another_teams_records(
    incident, model, playbook, outsider, member
):
    stranger = token_client(outsider)
    answer = stranger.post(
        "/api/incidents/", {"model": model.name, "title": "hijack"}, format="json"
    )
    assert answer.status_code == 400
    assert "model" in answer.json()["fields"]

    review = stranger.post("/api/reviews/", {"incident": incident.pk}, format="json")
    assert review.status_code == 400 and "incident" in review.json()["fields"]

    drill = stranger.post(
        "/api/drills/",
        {"playbook": playbook.pk, "title": "x", "scheduled_for": "2026-06-01T09:00:00Z"},
        format="json",
    )
    assert drill.status_code == 400 and "playbook" in drill.json()["fields"]

    # a member opens one by hand, with the team's playbook
    opened = token_client(member).post(
        "/api/incidents/",
        {
            "model": model.name,
            "title": "Complaints about declines",
            "severity": "high",
            "playbook": playbook.pk,
        },
        format="json",
    )
    assert opened.status_code == 201, opened.json()
    assert opened.json()["status"] == "open"
    assert opened.json()["playbook_version"] == "drift-response v1"


@pytest.mark.django_db
def test_a_hand_opened_incident_names_its_deployment(model, deployment, member, outsider, risk):
    from registry.services import register_model

    body = {"model": model.name, "title": "Declines spike", "deployment": deployment.pk}
    opened = token_client(member).post("/api/incidents/", body, format="json")
    assert opened.status_code == 201, opened.json()
    assert opened.json()["deployment"] == deployment.pk
    assert opened.json()["risks"] == []
    linked = token_client(member).patch(
        f"/api/incidents/{opened.json()['id']}", {"risks": [risk.pk]}, format="json"
    )
    assert linked.status_code == 200, linked.json()
    assert linked.json()["risks"] == [risk.pk]
    hidden = token_client(outsider).post(
        "/api/incidents/", {"model": model.name, "title": "x", "risks": [risk.pk]}, format="json"
    )
    assert hidden.status_code == 400
    assert opened.json()["model_version"] == "2"
    assert opened.json()["environment_name"] == "production"

    theirs = register_model(
        name="card-fraud",
        team=outsider.groups.exclude(name="ml-engineer").get(),
        risk_tier="high",
        description="x",
    )
    mismatch = token_client(outsider).post(
        "/api/incidents/",
        {"model": theirs.name, "title": "x", "deployment": deployment.pk},
        format="json",
    )
    assert mismatch.status_code == 400 and "deployment" in mismatch.json()["fields"]


@pytest.mark.django_db
def test_action_items_are_scoped_through_their_review(incident, member, outsider, owner):
    incidents.acknowledge(incident, member)
    api = token_client(member)
    rid = api.post("/api/reviews/", {"incident": incident.pk}, format="json").json()["id"]
    item = api.post(
        "/api/action-items/",
        {
            "review": rid,
            "title": "Add input drift alert",
            "owner": owner.username,
            "due_date": "2026-07-01",
        },
        format="json",
    )
    assert item.status_code == 201, item.json()
    stranger = token_client(outsider)
    assert stranger.get("/api/action-items/").json()["count"] == 0
    assert stranger.get(f"/api/action-items/{item.json()['id']}").status_code == 404
    assert (
        stranger.post(
            "/api/action-items/",
            {"review": rid, "title": "x", "owner": outsider.username, "due_date": "2026-07-01"},
            format="json",
        ).status_code
        == 400
    )


@pytest.mark.django_db
def test_playbooks_belong_to_their_team(team, other_team, owner, outsider, leads):
    body = {
        "team": team.name,
        "name": "toxicity",
        "steps": STEPS,
        "escalation_chain": [{"group": team.name, "minutes": 10}],
    }
    assert token_client(outsider).post("/api/playbooks/", body, format="json").status_code == 403
    created = token_client(owner).post("/api/playbooks/", body, format="json")
    assert created.status_code == 201, created.json()
    pid = created.json()["id"]
    assert token_client(outsider).get(f"/api/playbooks/{pid}").status_code == 404
    assert (
        token_client(outsider)
        .patch(f"/api/playbooks/{pid}", {"description": "x"}, format="json")
        .status_code
        == 404
    )


@pytest.mark.django_db
def test_incident_list_does_not_query_per_row(
    model, playbook, member, django_assert_max_num_queries
):
    for n in range(6):
        incident = incidents.open_incident(
            model=model,
            title=f"incident {n}",
            playbook_version=latest_version(playbook),
            now=T0 + timedelta(minutes=n),
        )
        incidents.complete_step(incident, 1, member)
    api = token_client(member)
    with django_assert_max_num_queries(16):
        answer = api.get("/api/incidents/")
    assert answer.json()["count"] == 6
    for endpoint in ("/api/signals/", "/api/action-items/"):
        with django_assert_max_num_queries(8):
            assert api.get(endpoint).status_code == 200


@pytest.mark.django_db
def test_review_drill_and_playbook_lists_do_not_query_per_row(
    model, playbook, member, owner, django_assert_max_num_queries
):
    from playbooks.models import ActionItem, Drill, PostIncidentReview
    from playbooks.services.reviews import save_drill

    for n in range(4):
        incident = incidents.open_incident(model=model, title=f"i{n}", now=T0)
        review = PostIncidentReview.objects.create(incident=incident, summary="s")
        drill = save_drill(
            Drill(playbook=playbook, title=f"d{n}", scheduled_for=T0), participants=[owner, member]
        )
        for parent in ({"review": review}, {"drill": drill}):
            ActionItem.objects.create(title="a", owner=owner, due_date=T0.date(), **parent)
    api = token_client(member)
    for endpoint, rows in (
        ("/api/reviews/", 4),
        ("/api/drills/", 4),
        ("/api/playbooks/", 1),
        ("/api/action-items/", 8),
    ):
        with django_assert_max_num_queries(10):
            answer = api.get(endpoint)
        assert answer.json()["count"] == rows, endpoint
