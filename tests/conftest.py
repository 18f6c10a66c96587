import os

import pytest
from pytest_django.fixtures import validate_django_db
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


@pytest.fixture(autouse=True)
def _audit_exports_in_a_temporary_folder(settings, tmp_path_factory):
    """Audit export bundles a test builds go to a folder of its own, never the checkout."""
    settings.GOVREG_AUDIT_EXPORT_DIR = str(tmp_path_factory.mktemp("exports"))


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


TRANSACTIONAL_FIXTURES = ("transactional_db", "live_server", "django_db_reset_sequences")


def _serialize_rollback(item) -> None:
    """Give a transactional test a serialized rollback: through its ``django_db`` marker
    if it has one (pytest-django reads the option only from there then), else through
    the ``django_db_serialized_rollback`` fixture."""
    fixtures = getattr(item, "fixturenames", [])
    by_fixture = any(name in fixtures for name in TRANSACTIONAL_FIXTURES)
    marker = item.get_closest_marker("django_db")
    if marker is None:
        if by_fixture and "django_db_serialized_rollback" not in fixtures:
            fixtures.append("django_db_serialized_rollback")
        return
    transaction, reset_sequences, databases, serialized, available_apps = validate_django_db(marker)
    if (transaction or reset_sequences or by_fixture) and not serialized:
        item.add_marker(
            pytest.mark.django_db(
                transaction=True,
                reset_sequences=reset_sequences,
                databases=databases,
                serialized_rollback=True,
                available_apps=available_apps,
            ),
            append=False,
        )


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` run only when DATABASE_URL points at PostgreSQL.

    Every transactional test (``transaction=True``, ``transactional_db``, ``live_server``)
    gets a serialized rollback: its teardown flushes every table, the data migrations'
    rows (roles, environments, decision rights, the risk matrix) included, and Django
    puts back the database as migrated, serialized once at set-up, before the next such
    test starts. pytest-django runs the non-transactional tests first, so they never see
    a flushed database. On PostgreSQL the flush goes through tests/management/commands/
    flush.py (the audit tables refuse TRUNCATE otherwise). The audit trail is not in the
    serialized copy (``TEST_NON_SERIALIZED_APPS`` in config/test_settings.py): restoring
    the roles' permissions records their audit events afresh, as migrating does, and
    restoring only inserts, which the append-only triggers allow."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))
    skip = pytest.mark.skip(reason="needs DATABASE_URL on PostgreSQL (see .ci/run)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)
        _serialize_rollback(item)
