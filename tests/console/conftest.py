"""A small world for the console's pages: the credit-risk team's models, some live in
staging, the fraud team's model the credit-risk people may not see, and people of each
role. Built through the services (``register_model``, ``register_version``, ``deploy``),
so every record carries its team's permissions and its audit events."""

import pytest

from accounts.roles import Role
from lineage.models import Run
from registry import services
from registry.models import Environment
from tests.factories import UserFactory
from tests.gate.conftest import CARD, training_lineage

PASSWORD = "console-pass-2468"


def person(username, *groups, superuser=False):
    user = UserFactory(username=username, groups=list(groups), is_superuser=superuser)
    user.set_password(PASSWORD)
    user.save()
    return user


def make_model(team, name, tier="minimal"):
    return services.register_model(
        name=name, team=team, risk_tier=tier, description=f"{name} model", **CARD
    )


def a_training_run() -> Run:
    """One training run (OpenLineage events through the intake), shared by the versions
    of a test: the first one made, or a new one."""
    run = Run.objects.filter(job__name="console_train").first()
    return run or training_lineage("console", author=None)


def make_version(model, label, user=None, run=None):
    run = run or a_training_run()
    return services.register_version(
        model=model,
        version=label,
        artifact_uri=f"s3://models/{model.name}/{label}/model.pkl",
        artifact_digest=f"sha256:{label:0>64}",
        training_run=str(run.run_id),
        registered_by=user,
    )


def fleet(team, count, *, prefix="model", deployer=None):
    """``count`` models of ``team``, each with version 1 live in staging."""
    staging = Environment.objects.get(name="staging")
    models = []
    for number in range(count):
        model = make_model(team, f"{prefix}-{number:04d}")
        version = make_version(model, "1")
        services.deploy(version, staging, deployer)
        models.append(model)
    return models


@pytest.fixture
def staging(db):
    return Environment.objects.get(name="staging")


@pytest.fixture
def engineer(team):
    return person("olivia", team, Role.ML_ENGINEER)


@pytest.fixture
def outsider(other_team):
    return person("oscar", other_team, Role.ML_ENGINEER)


@pytest.fixture
def alice(team):
    return person("alice", team, Role.APPROVER)


@pytest.fixture
def board(db):
    return person("bea", Role.BOARD)


@pytest.fixture
def auditor(db):
    return person("audrey", Role.AUDITOR)


@pytest.fixture
def pipeline(team):
    return person("ci-credit", team, Role.PIPELINE)


@pytest.fixture
def loan_model(team):
    return make_model(team, "loan-default", "minimal")


@pytest.fixture
def fraud_model(other_team):
    return make_model(other_team, "card-fraud", "limited")


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
