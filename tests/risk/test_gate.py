"""The deployment gate with the risk register's checks, through the gate's own services:
a high-tier version waits for its human review, and for its risks to be within appetite."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from registry.gate import services as gate
from registry.gate.checks import fingerprint_parts
from registry.models import Environment
from risk import services
from risk.models import Control, Threshold
from tests.factories import UserFactory
from tests.gate.conftest import make_model, make_version, training_lineage
from tests.risk.factories import make_risk

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(team):
    return {
        "alice": UserFactory(username="alice", groups=[team, Role.APPROVER]),
        "bob": UserFactory(username="bob", groups=[team, Role.APPROVER]),
        "carol": UserFactory(username="carol", groups=[team, Role.ML_ENGINEER]),
        "dana": UserFactory(username="dana", groups=[Role.BOARD]),
        "ci": UserFactory(username="ci-credit", groups=[team, Role.PIPELINE]),
    }


@pytest.fixture
def version(team, people):
    run = training_lineage("support", author=None)
    model = make_model(team, "support-llm", "high")
    return make_version(model, run, "7", people["carol"])


@pytest.fixture
def production(db):
    return Environment.objects.get(name="production")


def check(deployment_request, name):
    return next(c for c in deployment_request.checks if c["name"] == name)


def post(client, version, body):
    response = client.post(f"/api/model-versions/{version.pk}/evaluations", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def approve_twice(request_id, people):
    gate.approve(request_id, people["alice"], "ok")
    return gate.approve(request_id, people["bob"], "ok")


def test_high_tier_waits_for_its_human_review_then_is_approved(
    client_for, version, people, production
):
    ci = client_for(people["ci"])
    post(
        ci,
        version,
        [
            {"kind": "adversarial", "name": "prompt-injection", "passed": True},
            {"kind": "distributional-stress", "name": "long prompts", "passed": True},
        ],
    )
    request = gate.create_request(model_version=version, environment=production, user=people["ci"])
    request = approve_twice(request.pk, people)
    # both approvers agreed, yet the gate does not let it through: the review is missing
    assert request.status == "pending"
    evaluations = check(request, "required-evaluations")
    assert evaluations["passed"] is False
    assert "Human review evaluation missing" in evaluations["reason"]
    assert "Adversarial" not in evaluations["reason"]
    assert f"/api/model-versions/{version.pk}/evaluations" in evaluations["reason"]
    assert check(request, "approvals-complete")["passed"] is True

    # a board member reviews 50 conversations; CI posts the result naming the reviewer
    post(
        ci,
        version,
        {
            "kind": "human-review",
            "name": "50 sampled conversations",
            "passed": True,
            "reviewer": "dana",
        },
    )
    request = gate.evaluate(request)
    assert check(request, "required-evaluations")["passed"] is True
    # the missing evidence arrived without changing what the approvers saw: their
    # approvals stand and nobody approves twice
    assert request.status == "approved", request.reasons
    assert [a.lapsed_at for a in request.approvals.all()] == [None, None]


def test_a_failing_result_blocks_until_a_passing_one(client_for, version, people, production):
    ci = client_for(people["ci"])
    for kind in ("adversarial", "distributional-stress"):
        post(ci, version, {"kind": kind, "name": kind, "passed": True})
    post(
        ci, version, {"kind": "human-review", "name": "review", "passed": False, "reviewer": "dana"}
    )
    request = gate.create_request(model_version=version, environment=production, user=people["ci"])
    reason = check(request, "required-evaluations")["reason"]
    assert "Human review evaluation failing" in reason and "'review' (failed" in reason
    post(
        ci, version, {"kind": "human-review", "name": "review", "passed": True, "reviewer": "dana"}
    )
    assert check(gate.evaluate(request), "required-evaluations")["passed"] is True


def test_minimal_tier_requires_nothing(team, people, production):
    model = make_model(team, "faq-ranker", "minimal")
    version = make_version(model, training_lineage("faq", author=None), "1", people["carol"])
    request = gate.create_request(model_version=version, environment=production, user=people["ci"])
    assert check(request, "required-evaluations") == {
        "name": "required-evaluations",
        "passed": True,
        "final": False,
        "reason": "The minimal tier requires no evaluations.",
    }


def test_a_risk_above_appetite_blocks_until_accepted(
    client_for, team, owner, version, people, production
):
    ci = client_for(people["ci"])
    for kind in ("adversarial", "distributional-stress", "human-review"):
        post(ci, version, {"kind": kind, "name": kind, "passed": True, "reviewer": "dana"})
    risk = make_risk(
        team,
        owner,
        title="refusal rate rises on long prompts",
        residual_likelihood=4,
        residual_impact=4,
        appetite="medium",
        links={"ml_models": [version.model]},
    )
    # a high risk of a high-tier model is watched, with a heartbeat, and controlled
    # ("risks-monitored"; tests/risk/test_sufficiency_gate.py tells its own story)
    watching = Threshold.objects.create(
        risk=risk,
        model_version=version,
        metric="refusal_rate",
        comparator="gt",
        warning_value=0.05,
        critical_value=0.1,
        expected_every=timedelta(hours=1),
    )
    Threshold.objects.filter(pk=watching.pk).update(last_reading_at=timezone.now())
    Control.objects.create(risk=risk, owner=owner, title="Human fallback", status="implemented")
    request = approve_twice(
        gate.create_request(model_version=version, environment=production, user=people["ci"]).pk,
        people,
    )
    assert check(request, "risks-monitored")["passed"] is True
    appetite = check(request, "risks-within-appetite")
    assert appetite["passed"] is False
    assert f"risk #{risk.pk} 'refusal rate rises on long prompts'" in appetite["reason"]
    assert "residual level high above its appetite medium" in appetite["reason"]
    assert request.status == "pending"

    acceptance = services.request_acceptance(
        risk,
        people["carol"],
        justification="human fallback on long prompts",
        expires_at=timezone.now() + timedelta(days=30),
    )
    services.decide_acceptance(acceptance, people["alice"], verdict="approve")
    services.decide_acceptance(acceptance, people["bob"], verdict="approve")
    request = gate.evaluate(request)
    assert check(request, "risks-within-appetite")["passed"] is True
    assert request.status == "approved", request.reasons
    # a month later the acceptance has lapsed: the same request judged then is blocked
    later = gate.evaluate(request, now=acceptance.expires_at + timedelta(minutes=1))
    assert check(later, "risks-within-appetite")["passed"] is False


def test_evaluations_are_part_of_the_fingerprint(client_for, version, people):
    before = fingerprint_parts(version)["evaluations"]
    created = post(
        client_for(people["ci"]), version, {"kind": "scenario", "name": "s", "passed": False}
    )
    assert before == [] and fingerprint_parts(version)["evaluations"] == [[created["id"], False]]
