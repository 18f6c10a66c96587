import os

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import issue_token
from config.celery import app as celery_app
from tests.factories import TeamFactory, UserFactory

REAL_BROKER = bool(os.environ.get("CELERY_BROKER_URL")) and not os.environ.get(
    "CELERY_BROKER_URL", ""
).startswith("memory")


@pytest.fixture(autouse=True)
def _eager_celery_by_default():
    """Tasks run in-process unless a test asks for the real broker (``real_worker``)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def real_worker():
    if not REAL_BROKER:
        pytest.skip("needs CELERY_BROKER_URL and a running celery worker (see .ci/run)")
    celery_app.conf.task_always_eager = False
    return celery_app


def token_client(user, **token_options) -> APIClient:
    _, plaintext = issue_token(user, name="test", **token_options)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    client.user = user
    client.token = plaintext
    return client


@pytest.fixture
def team(db):
    return TeamFactory(name="credit-risk")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="fraud-detection")


@pytest.fixture
def owner(team):
    return UserFactory(username="olivia", groups=[team, Role.ML_ENGINEER])


@pytest.fixture
def member(team):
    return UserFactory(username="mark", groups=[team, Role.ML_ENGINEER])


@pytest.fixture
def outsider(other_team):
    return UserFactory(username="oscar", groups=[other_team, Role.ML_ENGINEER])


@pytest.fixture
def auditor(db):
    return UserFactory(username="audrey", groups=[Role.AUDITOR])


@pytest.fixture
def client_for():
    return token_client


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` run only when DATABASE_URL points at PostgreSQL."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))
    skip = pytest.mark.skip(reason="needs DATABASE_URL on PostgreSQL (see .ci/run)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


SEED_MIGRATIONS = (
    ("accounts", "0002_roles", "create_roles"),
    ("registry", "0004_seed_environments", "seed"),
    ("registry", "0006_seed_decision_rights", "seed"),
    ("registry", "0011_seed_rollback_rights", "seed"),
    ("risk", "0002_seed_matrix_and_required_evaluations", "seed"),
    ("risk", "0003_seed_accept_risk_right", "seed"),
)


def _reseed() -> None:
    """Run the data migrations' seed functions again (each is idempotent)."""
    from importlib import import_module

    from django.apps import apps

    for app, migration, function in SEED_MIGRATIONS:
        getattr(import_module(f"{app}.migrations.{migration}"), function)(apps, None)


@pytest.fixture(autouse=True)
def _migration_seeds(request):
    """A transactional test's teardown flushes every table, data-migration rows
    included; put the seeded roles, environments, matrix and rights back for
    the tests that follow, as a freshly migrated database has them."""
    wants_db = request.node.get_closest_marker("django_db") or any(
        name in request.fixturenames for name in ("db", "transactional_db", "live_server")
    )
    if not wants_db:
        return
    if "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        request.getfixturevalue("transactional_db")
    elif "db" in request.fixturenames:
        request.getfixturevalue("db")
    from registry.models import Environment

    if not Environment.objects.exists():
        _reseed()
