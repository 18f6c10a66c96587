import importlib
import itertools

import pytest

from registry import services
from registry.models import Environment
from tests.registry.story import training_chain

_labels = itertools.count(1)

CARD = {
    "intended_use": "Score consumer loan applications for default risk.",
    "out_of_scope_uses": "Employment or housing decisions.",
    "known_limitations": "Thin-file applicants are scored conservatively.",
    "capabilities": "Probability of default within 12 months.",
    "ethical_considerations": "Protected attributes are excluded and audited for proxies.",
    "human_oversight": "Declines above 0.8 are reviewed by an underwriter.",
    "contact": "credit-risk@example.com",
}


def make_model(team, name: str, *, tier: str = "high", card: bool = True):
    return services.register_model(
        name=name,
        team=team,
        risk_tier=tier,
        description=f"{name} model",
        **(CARD if card else {}),
    )


def make_version(model, training_run, label: str | None = None, user=None):
    label = label or str(next(_labels))
    return services.register_version(
        model=model,
        version=label,
        artifact_uri=f"s3://models/{model.name}/{label}/model.pkl",
        artifact_digest=f"sha256:{label:0>64}",
        training_run=training_run,
        registered_by=user,
    )


@pytest.fixture(autouse=True)
def environments(db):
    """The environments the data migration seeds; a transactional test elsewhere in the
    suite flushes the tables, so they are ensured here rather than assumed."""
    seeded = importlib.import_module("registry.migrations.0004_seed_environments")
    return {
        name: Environment.objects.get_or_create(
            name=name, defaults={"order": order, "protected": protected, "description": text}
        )[0]
        for name, order, protected, text in seeded.ENVIRONMENTS
    }


@pytest.fixture
def chain(db):
    return training_chain("loans")


@pytest.fixture
def model(team):
    return make_model(team, "loan-default")


@pytest.fixture
def other_model(other_team):
    return make_model(other_team, "card-fraud")


@pytest.fixture
def version(model, chain, owner):
    return make_version(model, chain["training_run"], "1", user=owner)


@pytest.fixture
def staging(db):
    return Environment.objects.get(name="staging")


@pytest.fixture
def production(db):
    return Environment.objects.get(name="production")
