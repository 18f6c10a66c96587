"""Rollbacks and incidents, with every app's checks: the incident that prompts a
rollback (on the version serving now) does not block it; an uncontained critical
incident on the version being put back does."""

import pytest

from playbooks.models import Incident
from registry.gate import services
from tests.gate.conftest import make_version, training_lineage
from tests.registry.shipping import ship

pytestmark = pytest.mark.django_db


def check(deployment_request, name):
    return next(c for c in deployment_request.checks if c["name"] == name)


@pytest.fixture
def served(loan_model, version, carol, production, owner):
    v8 = make_version(loan_model, training_lineage("loans-8", author=None), "8", carol)
    ship(version, production, owner)
    return ship(v8, production, owner)


def incident(model, **where):
    return Incident.objects.create(
        title="PSI 0.31 on applicant income", severity="critical", model=model, **where
    )


def test_the_incident_on_the_live_version_does_not_block_its_rollback(
    loan_model, version, served, production, owner
):
    on_live = incident(loan_model, deployment=served, model_version=served.model_version)

    request, _ = services.request_rollback(
        model_version=version, environment=production, user=owner
    )

    assert check(request, "no-open-critical-incident")["passed"] is True
    assert "required-evaluations" not in [c["name"] for c in request.checks]
    assert "risks-within-appetite" not in [c["name"] for c in request.checks]
    # while a plain deployment of the same version is blocked by it
    deploy = services.create_request(model_version=version, environment=production, user=owner)
    blocked = check(deploy, "no-open-critical-incident")
    assert blocked["passed"] is False and f"#{on_live.pk}" in blocked["reason"]


def test_an_incident_on_the_version_put_back_blocks_the_rollback(
    loan_model, version, served, production, owner
):
    on_target = incident(loan_model, model_version=version)

    request, _ = services.request_rollback(
        model_version=version, environment=production, user=owner
    )

    result = check(request, "no-open-critical-incident")
    assert result["passed"] is False
    assert f"#{on_target.pk}" in result["reason"] and "loan-default@7" in result["reason"]
    assert request.status == "pending"
