"""Every transactional test starts from the database as migrated: the flush after the
previous one emptied every table, and the serialized rollback (tests/conftest.py) put the
data migrations' rows back, changes of the previous test gone."""

import pytest
from django.contrib.auth.models import Group

from accounts.roles import Role
from registry.models import DecisionRight, Environment
from risk.models import RiskMatrix


@pytest.fixture(scope="module")
def as_migrated():
    return {}


def seeded_state() -> dict:
    return {
        "roles": sorted(Group.objects.values_list("name", flat=True)),
        "environments": sorted(Environment.objects.values_list("name", "protected")),
        "rights": DecisionRight.objects.count(),
        "matrices": RiskMatrix.objects.count(),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("turn", [1, 2, 3])
def test_each_transactional_test_starts_from_the_migrated_seeds(as_migrated, turn):
    state = seeded_state()
    assert {role.value for role in Role} <= set(state["roles"])
    assert ("production", True) in state["environments"]
    assert state["rights"] and state["matrices"]
    assert as_migrated.setdefault("state", state) == state
    # leave changes behind: the next turn must not see them
    Environment.objects.create(name=f"scratch-{turn}", order=90 + turn)
    Group.objects.filter(name=Role.BOARD).delete()
    DecisionRight.objects.all().delete()
