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
