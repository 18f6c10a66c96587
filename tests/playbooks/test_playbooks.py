"""Playbooks: validation of steps, decision tree and escalation chain; versions that
incidents keep; the gauges on /metrics; the demo seeder."""

import pytest
from django.core.exceptions import ValidationError

from playbooks.models import Playbook, PlaybookVersion
from playbooks.services import incidents
from playbooks.services.playbooks import latest_version, save_playbook
from tests.conftest import token_client
from tests.playbooks.conftest import STEPS


def _book(team, **overrides):
    values = {
        "team": team,
        "name": "p",
        "steps": STEPS,
        "escalation_chain": [{"group": team.name, "minutes": 5}],
    }
    values.update(overrides)
    return Playbook(**values)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"steps": []}, "steps"),
        ({"steps": [{"kind": "prayer", "text": "hope"}]}, "steps"),
        ({"escalation_chain": [{"group": "no-such-group", "minutes": 5}]}, "escalation_chain"),
        ({"escalation_chain": [{"group": "credit-risk", "minutes": 0}]}, "escalation_chain"),
        (
            {
                "decision_tree": [
                    {"id": "a", "question": "?", "answers": [{"answer": "y", "next": "b"}]}
                ]
            },
            "decision_tree",
        ),
        (
            {
                "decision_tree": [
                    {"id": "a", "question": "?", "answers": [{"answer": "y", "step": 9}]}
                ]
            },
            "decision_tree",
        ),
        (
            {
                "decision_tree": [
                    {"id": "a", "question": "?", "answers": [{"answer": "y", "next": "b"}]},
                    {"id": "b", "question": "?", "answers": [{"answer": "y", "next": "a"}]},
                ]
            },
            "decision_tree",
        ),
        (
            {"decision_tree": [{"id": "a", "question": "?", "answers": [{"answer": "y"}]}]},
            "decision_tree",
        ),
        ({"label_matchers": {"severity": 3}}, "label_matchers"),
    ],
)
@pytest.mark.django_db
def test_invalid_playbooks_are_refused_naming_the_field(team, overrides, field):
    with pytest.raises(ValidationError) as caught:
        _book(team, **overrides).full_clean()
    assert field in caught.value.message_dict


@pytest.mark.django_db
def test_the_api_names_the_bad_part_of_a_decision_tree(team, owner):
    answer = token_client(owner).post(
        "/api/playbooks/",
        {
            "team": team.name,
            "name": "p",
            "steps": STEPS,
            "escalation_chain": [{"group": team.name, "minutes": 5}],
            "decision_tree": [
                {"id": "a", "question": "?", "answers": [{"answer": "y", "step": 7}]}
            ],
        },
        format="json",
    )
    assert answer.status_code == 400
    assert "decision_tree" in answer.json()["fields"]
    assert "only 4 step" in answer.json()["message"]


@pytest.mark.django_db
def test_editing_makes_a_new_version_and_incidents_keep_theirs(team, owner, model):
    book = _book(team)
    first = save_playbook(book, user=owner)
    assert first.number == 1
    incident = incidents.open_incident(model=model, title="t", playbook_version=first)

    assert save_playbook(book, user=owner) == first  # nothing changed, no new version
    book.steps = [*STEPS, {"kind": "communication", "text": "Notify the regulator."}]
    second = save_playbook(book, user=owner)

    assert second.number == 2 and len(second.steps) == 5
    incident.refresh_from_db()
    assert incident.playbook_version == first
    assert len(incident.playbook_version.steps) == 4
    with pytest.raises(ValidationError):
        first.save()  # versions are immutable
    api = token_client(owner)
    versions = api.get(f"/api/playbooks/{book.pk}/versions").json()["results"]
    assert [v["number"] for v in versions] == [2, 1]
    patched = api.patch(
        f"/api/playbooks/{book.pk}", {"description": "now with a doc"}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["current_version"] == 3
    assert PlaybookVersion.objects.filter(playbook=book).count() == 3
    assert latest_version(book).description == "now with a doc"


@pytest.mark.django_db
def test_gauges_count_open_and_unacknowledged_incidents(model, member, client):
    one = incidents.open_incident(model=model, title="a")
    incidents.open_incident(model=model, title="b", severity="high")
    incidents.acknowledge(one, member)
    text = client.get("/metrics").content.decode()
    assert 'govreg_open_incidents{severity="critical"} 1.0' in text
    assert 'govreg_open_incidents{severity="high"} 1.0' in text
    assert "govreg_unacknowledged_incidents 1.0" in text


@pytest.mark.django_db
def test_the_demo_seeder_runs_twice(db):
    from accounts.demo import run_all
    from playbooks.models import Incident, PostIncidentReview

    run_all()
    run_all()
    book = Playbook.objects.get(name="drift-response")
    assert len(book.escalation_chain) == 2
    incident = Incident.objects.get(
        title__startswith="PredictionDriftHigh critical on loan-default"
    )
    assert incident.status == "resolved"
    assert PostIncidentReview.objects.get(incident=incident).status == "completed"
