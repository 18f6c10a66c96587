"""The gate check "risks-monitored", through the real gate API with every app's checks
registered: a high-tier version waits until each linked risk at level high or above
has sufficient monitoring; a limited-tier one (or a tier the setting leaves out) does not."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.roles import Role
from registry.gate.checks import registered_checks
from risk.models import Control, Evaluation, Threshold
from tests.factories import UserFactory
from tests.gate.conftest import ask, make_model, make_version, training_lineage
from tests.risk.factories import make_risk, pass_required_evaluations

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(team):
    return {
        "carol": UserFactory(username="carol", groups=[team, Role.ML_ENGINEER]),
        "dana": UserFactory(username="dana", groups=[Role.BOARD]),
        "ci": UserFactory(username="ci-support", groups=[team, Role.PIPELINE]),
    }


def version_of(team, people, tier="high", name="support-llm"):
    run = training_lineage(name, author=None)
    version = make_version(make_model(team, name, tier), run, "7", people["carol"])
    pass_required_evaluations(version, people["dana"])
    return version


def check(body, name):
    return next(c for c in body["checks"] if c["name"] == name)


def high_risk(team, owner, version):
    # 4 x 4 = 16 on the default matrix: high; appetite high so the appetite check passes
    return make_risk(
        team,
        owner,
        title="Refusals hide unanswered customers",
        residual_likelihood=4,
        residual_impact=4,
        appetite="high",
        links={"ml_models": [version.model]},
    )


def test_a_high_risk_without_sufficient_monitoring_holds_a_high_tier_version(
    client_for, team, owner, people
):
    assert "risks-monitored" in [name for name, _ in registered_checks("deploy")]
    version = version_of(team, people)
    risk = high_risk(team, owner, version)
    ci = client_for(people["ci"])

    body = ask(ci, version).json()
    monitored = check(body, "risks-monitored")
    assert monitored["passed"] is False
    assert (
        f"risk #{risk.pk} 'Refusals hide unanswered customers' (residual high)"
        in (monitored["reason"])
    )
    assert "partial monitoring: no threshold watches it" in monitored["reason"]
    assert f"/api/risks/{risk.pk}/" in monitored["reason"]
    assert check(body, "risks-within-appetite")["passed"] is True

    # the team watches the risk with a heartbeat and implements a control
    threshold = Threshold.objects.create(
        risk=risk,
        model_version=version,
        metric="refusal_rate",
        comparator="gt",
        warning_value=0.05,
        critical_value=0.1,
        expected_every=timedelta(hours=1),
    )
    Threshold.objects.filter(pk=threshold.pk).update(last_reading_at=timezone.now())
    Control.objects.create(risk=risk, owner=owner, title="Human review", status="implemented")
    fresh = ask(ci, version).json()
    assert check(fresh, "risks-monitored")["passed"] is True, check(fresh, "risks-monitored")
    assert check(fresh, "risks-monitored")["reason"] == (
        "Every linked risk at level high or above has sufficient monitoring."
    )

    # three hours later the monitor is silent: the same version is held again
    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        later = ask(ci, version).json()
    reason = check(later, "risks-monitored")["reason"]
    assert "threshold 'refusal_rate' has had no reading for 3\xa0hours" in reason


def test_medium_risks_and_other_tiers_are_not_held(client_for, team, owner, people, settings):
    limited = version_of(team, people, tier="limited", name="faq-bot")
    high_risk(team, owner, limited)
    body = ask(client_for(people["ci"]), limited).json()
    assert check(body, "risks-monitored") == {
        "name": "risks-monitored",
        "passed": True,
        "reason": "The limited tier does not require sufficient monitoring.",
    }

    version = version_of(team, people, name="support-llm")
    make_risk(team, owner, links={"ml_models": [version.model]})  # 2 x 2: low
    body = ask(client_for(people["ci"]), version).json()
    assert check(body, "risks-monitored")["passed"] is True

    high_risk(team, owner, version)
    settings.GOVREG_SUFFICIENT_MONITORING_TIERS = []
    body = ask(client_for(people["ci"]), version).json()
    assert check(body, "risks-monitored")["passed"] is True
    assert Evaluation.objects.filter(model_version=version).exists()
