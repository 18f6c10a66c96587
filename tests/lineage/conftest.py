import pytest

from accounts.roles import Role
from tests.conftest import token_client
from tests.factories import UserFactory


@pytest.fixture
def pipeline_user(db):
    return UserFactory(username="pipeline-bot", groups=[Role.PIPELINE])


@pytest.fixture
def pipeline(pipeline_user):
    return token_client(pipeline_user)


@pytest.fixture
def board_member(db):
    return UserFactory(username="bianca", groups=[Role.BOARD])
