"""The risk demo seeds a living register on the registry's demo models, safely twice."""

import pytest

from accounts import demo as accounts_demo
from registry.demo import seed_registry
from registry.gate import services as gate
from registry.models import Environment, ModelVersion
from risk.checks import evaluation_gaps
from risk.demo import seed_risks
from risk.models import Control, Evaluation, Risk, RiskAcceptance, Threshold

pytestmark = pytest.mark.django_db


def counts():
    return tuple(
        model.objects.count() for model in (Risk, RiskAcceptance, Control, Threshold, Evaluation)
    )


def test_demo_register_is_seeded_and_safe_twice():
    context = {"users": accounts_demo.seed_users()}
    seed_registry(context)
    seed_risks(context)
    first = counts()
    seed_risks(context)
    assert counts() == first
    assert first == (4, 1, 2, 3, 6)
    refusal = Risk.objects.get(title="Refusal rate rises on long prompts")
    assert refusal.category == "emergent-behaviour"
    drift = Risk.objects.get(title="Score drift after the bureau data change")
    assert drift.above_appetite and drift.treatment == "accept"
    assert drift.acceptances.get().status == "accepted"
    # loan-default@3 has passed two of its three required evaluations
    v3 = ModelVersion.objects.get(model__name="loan-default", version="3")
    gaps = evaluation_gaps(v3)
    assert len(gaps) == 1 and gaps[0].startswith("Human review evaluation missing")
    request = gate.create_request(
        model_version=v3,
        environment=Environment.objects.get(name="production"),
        user=context["users"]["pipeline"],
    )
    assert request.status in ("pending", "denied")
    assert any("Human review evaluation missing" in reason for reason in request.reasons)
