"""A model of the credit-risk team with a version trained on lineage, risks, a
threshold, an evaluation and an incident: the records a dossier is made of."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from pypdf import PdfReader

from accounts.roles import Role
from playbooks.models import Incident
from registry import services
from risk.models import Evaluation, Threshold
from risk.services import create_risk
from tests.factories import UserFactory
from tests.registry.story import training_chain

CARD = {
    "intended_use": "Score consumer loan applications for default risk.",
    "out_of_scope_uses": "Employment or housing decisions.",
    "known_limitations": "Thin-file applicants are scored conservatively.",
    "capabilities": "Probability of default within 12 months.",
    "ethical_considerations": "Protected attributes are excluded.",
    "human_oversight": "Declines above 0.8 are reviewed by an underwriter.",
    "contact": "credit-risk@example.com",
}


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def pdf_pages(content: bytes) -> int:
    return len(PdfReader(io.BytesIO(content)).pages)


def add_version(model, label, training_run=None, user=None):
    return services.register_version(
        model=model,
        version=label,
        artifact_uri=f"s3://models/{model.name}/{label}/model.pkl",
        artifact_digest=f"sha256:{label:0>64}",
        training_run=training_run,
        registered_by=user,
    )


def add_risk(model, version, owner, title="Score drift", **fields):
    values = {
        "title": title,
        "category": "data-drift",
        "hypothesis": "PSI stays under 0.1 month on month",
        "inherent_likelihood": 4,
        "inherent_impact": 4,
        "residual_likelihood": 2,
        "residual_impact": 3,
        "appetite": "medium",
        **fields,
    }
    return create_risk(
        team=model.team,
        owner=owner,
        links={"ml_models": [model], "model_versions": [version]},
        **values,
    )


@pytest.fixture
def board(db):
    return UserFactory(username="bea", groups=[Role.BOARD])


@pytest.fixture
def chain(db):
    return training_chain("loans")


@pytest.fixture
def model(team):
    return services.register_model(
        name="loan-default", team=team, risk_tier="high", description="PD model", **CARD
    )


@pytest.fixture
def version(model, chain, owner):
    return add_version(model, "1", chain["training_run"], owner)


@pytest.fixture
def records(model, version, owner):
    risk = add_risk(model, version, owner)
    threshold = Threshold.objects.create(
        risk=risk,
        model_version=version,
        metric="score_psi",
        comparator="gt",
        warning_value=0.1,
        critical_value=0.25,
        hypothesis="PSI above 0.25 means the applicant population moved.",
    )
    evaluation = Evaluation.objects.create(
        model_version=version,
        kind="scenario",
        name="tests/stress::test_recession",
        hypothesis="Calibration holds when default rates double.",
        success_criterion="ECE below 0.03",
        metrics={"ece": 0.021},
        outcome="passed",
        submitted_by=owner,
        reviewer=owner,
    )
    incident = Incident.objects.create(
        title="Drift on loan-default@1",
        model=model,
        model_version=version,
        opened_at=timezone.now() - timedelta(minutes=5),
    )
    return {"risk": risk, "threshold": threshold, "evaluation": evaluation, "incident": incident}
