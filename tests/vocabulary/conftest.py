"""The vocabulary's story: the credit-risk team trains a loan model on raw applications
that hold personal data; the shared vocabulary says so, and the registry, the dossier
and the gate follow. The fraud team's engineer must not learn of credit's records."""

import pytest

from accounts.roles import Role
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.gate.conftest import make_model, make_version, training_lineage
from vocabulary.choices import PII_SENSITIVE
from vocabulary.services import tag_named


@pytest.fixture
def api():
    return token_client


@pytest.fixture
def admin(db):
    return UserFactory(username="ada", groups=[Role.ADMIN])


@pytest.fixture
def board(db):
    return UserFactory(username="beatrice", groups=[Role.BOARD])


@pytest.fixture
def approver(team):
    return UserFactory(username="alice", groups=[team, Role.APPROVER])


@pytest.fixture
def pipeline(team, other_team):
    return UserFactory(username="ci", groups=[team, other_team, Role.PIPELINE])


@pytest.fixture
def pii():
    return tag_named(PII_SENSITIVE)


@pytest.fixture
def training_run(db):
    return training_lineage("loans", author="tara")


@pytest.fixture
def loan_model(team):
    return make_model(team, "loan-default", "high")


@pytest.fixture
def fraud_model(other_team):
    return make_model(other_team, "card-fraud", "limited")


@pytest.fixture
def version(loan_model, training_run, owner):
    return make_version(loan_model, training_run, "7", owner)
