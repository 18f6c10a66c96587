"""Rules that held at creation but not on update or in filters (issue 17): a record's
team is fixed, and a filter or a person field naming what lies outside the caller's
teams answers as for what does not exist."""

import pytest

from registry.models import Feature, MLModel
from registry.services import register_feature

pytestmark = pytest.mark.django_db


@pytest.fixture
def both(owner, other_team):
    """A member of both teams: membership on the new side is no licence to move."""
    owner.groups.add(other_team)
    return owner


def test_a_models_team_cannot_be_changed(client_for, both, model, other_team):
    response = client_for(both).patch(
        f"/api/models/{model.pk}/", {"team": other_team.name}, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json()["fields"]["team"] == [
        "The team of a ML model is fixed once it is registered."
    ]
    assert MLModel.objects.get(pk=model.pk).team_id == model.team_id


def test_a_features_team_cannot_be_changed(client_for, both, team, other_team):
    feature = register_feature(name="income", team=team)
    response = client_for(both).patch(
        f"/api/features/{feature.pk}/", {"team": other_team.name}, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    assert "team" in response.json()["fields"]
    assert Feature.objects.get(pk=feature.pk).team_id == team.pk


def test_naming_the_same_team_on_update_is_fine(client_for, owner, model, team):
    response = client_for(owner).patch(
        f"/api/models/{model.pk}/", {"team": team.name, "description": "d"}, format="json"
    )
    assert response.status_code == 200, response.content[:300]


@pytest.mark.parametrize("path", ["risks", "playbooks"])
def test_risks_and_playbooks_refuse_the_move_with_the_same_rule(
    client_for, both, other_team, risk, playbook, path
):
    pk = risk.pk if path == "risks" else playbook.pk
    response = client_for(both).patch(
        f"/api/{path}/{pk}/", {"team": other_team.name}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"]["team"][0].endswith("is fixed once it is registered.")


@pytest.mark.parametrize(
    "path, parameter",
    [
        ("/api/deployments/", "model_version"),
        ("/api/thresholds/", "deployment"),
        ("/api/thresholds/", "risk"),
        ("/api/controls/", "risk"),
        ("/api/risk-acceptances/", "risk"),
        ("/api/evaluations/", "model_version"),
        ("/api/signals/", "incident"),
    ],
)
def test_a_filter_on_another_teams_record_answers_as_for_none(
    client_for, outsider, deployment, threshold, path, parameter
):
    """The outsider names the team's records by id: the same answer as for an id that
    does not exist, so the filter tells nothing of what exists elsewhere."""
    theirs = {
        "model_version": deployment.model_version_id,
        "deployment": deployment.pk,
        "risk": threshold.risk_id,
        "incident": 1,
    }[parameter]
    client = client_for(outsider)
    foreign = client.get(f"{path}?{parameter}={theirs}")
    absent = client.get(f"{path}?{parameter}=999999")
    assert foreign.status_code == absent.status_code == 200, foreign.content[:300]
    assert foreign.json()["results"] == absent.json()["results"] == []
    assert client.get(f"{path}?{parameter}=abc").status_code == 400
    assert client.get(f"{path}?{parameter}=99999999999999999999").status_code == 400


def same_refusal(post, field, stranger, absent="nobody-by-that-name"):
    """``post(name)``'s answer for a user outside the team and for no such user."""
    foreign, missing = post(stranger), post(absent)
    assert foreign.status_code == missing.status_code == 400, foreign.content[:300]
    message = foreign.json()["fields"][field]
    assert message == [m.replace(absent, stranger) for m in missing.json()["fields"][field]]
    return message


def test_person_fields_refuse_people_outside_the_team_as_unknown(
    client_for, member, outsider, playbook, v1
):
    api = client_for(member)
    drill = api.post(
        "/api/drills/",
        {"playbook": playbook.pk, "title": "d", "scheduled_for": "2026-07-01T09:00:00Z"},
        format="json",
    )
    assert drill.status_code == 201, drill.json()
    same_refusal(
        lambda name: api.post(
            "/api/action-items/",
            {"drill": drill.json()["id"], "title": "t", "owner": name, "due_date": "2026-07-01"},
            format="json",
        ),
        "owner",
        outsider.username,
    )
    same_refusal(
        lambda name: api.post(
            "/api/drills/",
            {
                "playbook": playbook.pk,
                "title": "d2",
                "scheduled_for": "2026-07-01T09:00:00Z",
                "participants": [name],
            },
            format="json",
        ),
        "participants",
        outsider.username,
    )
    same_refusal(
        lambda name: api.post(
            f"/api/model-versions/{v1.pk}/evaluations",
            {"kind": "human-review", "passed": True, "reviewer": name},
            format="json",
        ),
        "reviewer",
        outsider.username,
    )
    # a teammate is still accepted
    ok = api.post(
        "/api/action-items/",
        {
            "drill": drill.json()["id"],
            "title": "t",
            "owner": member.username,
            "due_date": "2026-07-01",
        },
        format="json",
    )
    assert ok.status_code == 201, ok.json()


def _chain(api, playbook, method, groups):
    body = {"escalation_chain": [{"group": g, "minutes": 5} for g in groups]}
    if method == "put":
        current = api.get(f"/api/playbooks/{playbook.pk}/").json()
        body = {**current, **body}
    return getattr(api, method)(f"/api/playbooks/{playbook.pk}/", body, format="json")


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_escalation_chain_outside_the_team_reads_as_an_unknown_group(
    client_for, owner, playbook, other_team, method
):
    """Another team's group and a role answer exactly as a name that does not exist;
    the playbook's own team, the board and a shared on-call group pass."""
    api = client_for(owner)
    before = list(playbook.escalation_chain)
    for name in (other_team.name, "admin", "no-such-group"):
        response = _chain(api, playbook, method, [name])
        assert response.status_code == 400, response.content[:300]
        assert response.json()["fields"]["escalation_chain"] == [
            f"[0].group: no group named {name!r}"
        ]
    playbook.refresh_from_db()
    assert playbook.escalation_chain == before

    response = _chain(api, playbook, method, [playbook.team.name, "oncall-leads", "board"])
    assert response.status_code == 200, response.content[:300]
    playbook.refresh_from_db()
    assert [lvl["group"] for lvl in playbook.escalation_chain] == [
        playbook.team.name,
        "oncall-leads",
        "board",
    ]


def test_a_shared_escalation_group_comes_from_the_setting(
    client_for, owner, playbook, other_team, settings
):
    """Without the setting the on-call group is another team like any; named in it,
    another team's group becomes a target (the setting is the one list)."""
    api = client_for(owner)
    settings.GOVREG_SHARED_ESCALATION_GROUPS = []
    response = _chain(api, playbook, "patch", ["oncall-leads"])
    assert response.json()["fields"]["escalation_chain"] == [
        "[0].group: no group named 'oncall-leads'"
    ]
    settings.GOVREG_SHARED_ESCALATION_GROUPS = [other_team.name, "admin"]
    assert _chain(api, playbook, "patch", [other_team.name]).status_code == 200
    # a role named in the setting is still no target
    response = _chain(api, playbook, "patch", ["admin"])
    assert response.json()["fields"]["escalation_chain"] == ["[0].group: no group named 'admin'"]


def test_the_model_refuses_another_teams_group_outside_the_api(playbook, other_team):
    from django.core.exceptions import ValidationError

    playbook.escalation_chain = [{"group": other_team.name, "minutes": 5}]
    with pytest.raises(ValidationError) as caught:
        playbook.full_clean()
    assert caught.value.message_dict["escalation_chain"] == [
        f"[0].group: no group named {other_team.name!r}"
    ]
