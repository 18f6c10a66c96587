"""The risk register's part of the demo story: a living register on the demo models."""

import pytest
from django.utils import timezone

from accounts import demo as accounts_demo
from registry.models import DeploymentRequest, ModelVersion
from risk.checks import evaluation_gaps
from risk.demo import DRIFT, FAIRNESS, PROBING, REFUSALS
from risk.models import Control, Evaluation, Risk, RiskAcceptance, Threshold

pytestmark = pytest.mark.django_db


def counts():
    return tuple(
        model.objects.count() for model in (Risk, RiskAcceptance, Control, Threshold, Evaluation)
    )


def test_the_register_tells_its_part_of_the_story_once():
    accounts_demo.run_all()
    first = counts()
    accounts_demo.run_all()
    assert counts() == first
    # the red-team finding added a risk and two red-team tests, the PII chapter two reviews
    assert first == (5, 1, 2, 5, 21)
    assert Risk.objects.get(title=REFUSALS).category == "emergent-behaviour"

    # The drift incident's review re-rated the drift risk above appetite; two approvers
    # (neither its owner nor the requester) accepted it for 60 days.
    drift = Risk.objects.get(title=DRIFT)
    assert drift.above_appetite and drift.treatment == "accept"
    assert (drift.residual_likelihood, drift.residual_impact) == (3, 4)
    acceptance = drift.acceptances.get()
    assert acceptance.status == "accepted" and acceptance.expires_at > timezone.now()
    assert (acceptance.expires_at - acceptance.requested_at).days == 60
    approvers = {a.approver.username for a in acceptance.approvals.all()}
    assert approvers == {"approver", "approver2"}
    assert drift.owner.username not in approvers
    assert drift.action_items.get().status == "done"

    fairness = Risk.objects.get(title=FAIRNESS)
    assert not fairness.above_appetite
    assert fairness.controls.filter(status="verified").exists()
    assert fairness.next_review_date > timezone.localdate()
    assert Risk.objects.get(title=PROBING).owner.groups.filter(name="fraud-detection").exists()
    assert Risk.objects.get(title=REFUSALS).next_review_date < timezone.localdate()  # overdue

    # Every version that served in production was watched and evaluated before it did.
    for version in ModelVersion.objects.filter(
        deployments__environment__name="production"
    ).distinct():
        assert not evaluation_gaps(version), version
        first_served = version.deployments.order_by("deployed_at").first().deployed_at
        assert all(e.created_at < first_served for e in version.evaluations.all())

    # loan-default@3 has passed two of its three required evaluations: the gate holds it.
    v3 = ModelVersion.objects.get(model__name="loan-default", version="3")
    gaps = evaluation_gaps(v3)
    assert len(gaps) == 1 and gaps[0].startswith("Human review evaluation missing")
    request = DeploymentRequest.objects.get(model_version=v3, environment__name="production")
    assert request.status == "pending"
    assert any("Human review evaluation missing" in reason for reason in request.reasons)
