"""The world of a monitored model: a team's model with two versions, the second
live in production after the first, a threshold on its drift metric, a risk, and
the team's playbook with a two-level escalation chain."""

import copy
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group

from accounts.roles import Role
from playbooks.models import Playbook
from playbooks.services.playbooks import save_playbook
from registry.models import Environment, ModelVersion
from registry.services import register_model
from risk.models import Threshold
from risk.services import create_risk
from tests.factories import UserFactory
from tests.registry.shipping import ship

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)

CARD = {
    "intended_use": "Score consumer loan applications for default risk.",
    "out_of_scope_uses": "Employment or housing decisions.",
    "known_limitations": "Thin-file applicants are scored conservatively.",
    "capabilities": "Probability of default within 12 months.",
    "ethical_considerations": "Protected attributes are excluded.",
    "human_oversight": "Declines above 0.8 are reviewed by an underwriter.",
    "contact": "credit-risk@example.com",
}

STEPS = [
    {"kind": "containment", "text": "Roll back to the previous version."},
    {"kind": "investigation", "text": "Compare input distributions."},
    {"kind": "remediation", "text": "Retrain on recent data."},
    {"kind": "communication", "text": "Tell credit operations."},
]


def alertmanager_payload(status="firing", *, model="loan-default", starts_at=None, **extra_labels):
    """A webhook body as Alertmanager 0.27 sends it (version 4)."""
    starts_at = starts_at or "2026-05-04T08:58:30.123Z"
    labels = {
        "alertname": "PredictionDriftHigh",
        "model": model,
        "version": "2",
        "environment": "production",
        "metric": "psi",
        "severity": "critical",
        "instance": "scorer-0:9100",
        "job": "model-monitor",
        **extra_labels,
    }
    return {
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="PredictionDriftHigh"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "govreg",
        "groupLabels": {"alertname": "PredictionDriftHigh"},
        "commonLabels": dict(labels),
        "commonAnnotations": {
            "summary": "Prediction drift (PSI) high on loan-default",
            "value": "0.31",
        },
        "externalURL": "http://alertmanager.monitoring:9093",
        "alerts": [
            {
                "status": status,
                "labels": dict(labels),
                "annotations": {
                    "summary": "Prediction drift (PSI) high on loan-default",
                    "description": "PSI of the score distribution is 0.31 over 1h.",
                    "value": "0.31",
                },
                "startsAt": starts_at,
                "endsAt": "2026-05-04T10:12:00Z"
                if status == "resolved"
                else "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.monitoring:9090/graph?g0.expr=psi%3E0.25",
                "fingerprint": "c6a2bd1f0e0a7d4b",
            }
        ],
    }


def resolved(payload):
    body = copy.deepcopy(payload)
    body["status"] = "resolved"
    body["alerts"][0]["status"] = "resolved"
    body["alerts"][0]["endsAt"] = "2026-05-04T10:12:00Z"
    return body


@pytest.fixture
def leads(db):
    return Group.objects.get_or_create(name="oncall-leads")[0]


@pytest.fixture
def lead(leads):
    return UserFactory(username="lena", groups=[leads, Role.ML_ENGINEER])


@pytest.fixture
def pipeline(team):
    return UserFactory(username="ci-bot", groups=[team, Role.PIPELINE])


@pytest.fixture
def other_pipeline(other_team):
    return UserFactory(username="fraud-ci", groups=[other_team, Role.PIPELINE])


@pytest.fixture
def model(team):
    return register_model(
        name="loan-default", team=team, risk_tier="high", description="Loan default", **CARD
    )


@pytest.fixture
def production(db):
    return Environment.objects.get(name="production")


def _version(model, label):
    return ModelVersion.objects.create(
        model=model,
        version=label,
        artifact_uri=f"s3://models/{model.name}/{label}",
        artifact_digest="sha256:" + label * 64,
    )


@pytest.fixture
def v1(model):
    return _version(model, "1")


@pytest.fixture
def v2(model):
    return _version(model, "2")


@pytest.fixture
def deployment(v1, v2, production, owner):
    ship(v1, production, owner, now=T0 - timedelta(days=20))
    return ship(v2, production, owner, now=T0 - timedelta(days=2))


@pytest.fixture
def risk(team, owner):
    return create_risk(
        team=team,
        owner=owner,
        title="Score drift hides rising defaults",
        category="data-drift",
        hypothesis="applicant mix shifts after marketing campaigns",
        inherent_likelihood=4,
        inherent_impact=4,
        residual_likelihood=3,
        residual_impact=3,
        appetite="medium",
    )


@pytest.fixture
def threshold(risk, deployment):
    item = Threshold(
        risk=risk,
        deployment=deployment,
        metric="psi",
        comparator="gt",
        warning_value=0.1,
        critical_value=0.25,
        hypothesis="PSI above 0.25 means the applicant population moved",
    )
    item.full_clean()
    item.save()
    return item


@pytest.fixture
def playbook(team, leads, threshold, owner):
    book = Playbook(
        team=team,
        name="drift-response",
        risk_category="data-drift",
        steps=STEPS,
        decision_tree=[
            {
                "id": "all",
                "question": "Is the drift in every segment?",
                "answers": [{"answer": "yes", "step": 1}, {"answer": "no", "step": 2}],
            }
        ],
        escalation_chain=[
            {"group": team.name, "minutes": 15},
            {"group": leads.name, "minutes": 30},
        ],
    )
    save_playbook(book, user=owner, thresholds=[threshold])
    return book
