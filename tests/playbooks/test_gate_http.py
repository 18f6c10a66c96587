"""The deploy pipeline's view of an incident, through the gate's HTTP API: while
the alert's incident is uncontained the gate holds a new version back; once it is
contained, the same request's re-judgement lets it through."""

import pytest

from playbooks.checks import NAME
from registry.services import register_version
from tests.conftest import token_client
from tests.playbooks.conftest import alertmanager_payload
from tests.registry.story import training_chain
from tests.risk.factories import pass_required_evaluations


@pytest.fixture
def v3(model, owner):
    """A version with complete lineage and every evaluation its tier requires, passed."""
    chain = training_chain("loans")
    version = register_version(
        model=model,
        version="3",
        artifact_uri="s3://models/loan-default/3/model.pkl",
        artifact_digest="sha256:" + "3" * 64,
        training_run=chain["training_run"],
    )
    pass_required_evaluations(version, owner)
    return version


def ours(answer: dict) -> dict:
    return next(c for c in answer["checks"] if c["name"] == NAME)


@pytest.mark.django_db
def test_the_pipeline_sees_the_gate_hold_and_release_the_model(pipeline, member, playbook, v3):
    ci = token_client(pipeline)
    incident = ci.post("/api/signals/alertmanager", alertmanager_payload(), format="json").json()[
        "signals"
    ][0]["incident"]

    asked = ci.post(
        "/api/deployment-requests/",
        {"model": "loan-default", "version": "3", "environment": "staging"},
        format="json",
    )
    assert asked.status_code == 201, asked.json()
    held = asked.json()
    assert ours(held)["passed"] is False
    assert held["status"] == "pending"
    assert any("uncontained critical incident" in r for r in held["reasons"])

    token_client(member).post(f"/api/incidents/{incident}/contain", {}, format="json")

    again = ci.get(f"/api/deployment-requests/{held['id']}/").json()
    assert ours(again)["passed"] is True
    assert [c["name"] for c in again["checks"] if not c["passed"]] == []
    assert again["status"] == "approved"
