"""The audit tables against the database's own roles (PostgreSQL).

TRUNCATE is refused like UPDATE and DELETE, and the application runs as a role
that does not own the tables, so it cannot lift those refusals either.
"""

import base64
import subprocess
import sys
from io import StringIO

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.backends.postgresql.base import DatabaseWrapper

from audit.database_roles import APPEND_FUNCTIONS, running_role_problems
from audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from audit.services import record, sign_checkpoint
from tests.utils import manage_env

KEY_B64 = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()


@pytest.fixture
def chain(db):
    for index in range(4):
        record("test.event", object_type="tests.thing", object_id=str(index))
    return AuditEvent.objects.count()


def verify() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE audit_auditevent",
        "TRUNCATE audit_auditevent, audit_auditchainhead",
        "TRUNCATE audit_auditcheckpoint",
    ],
)
def test_truncate_of_the_audit_tables_is_refused(chain, statement):
    refused = pytest.raises(DatabaseError, match="is append-only: TRUNCATE refused")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
        cursor.execute("UPDATE audit_auditchainhead SET last_seq = 0, last_hash = %s", ["0" * 64])
    assert AuditEvent.objects.count() == chain
    assert f"verified {chain} audit events; chain intact" in verify()


@pytest.mark.postgres
def test_signed_checkpoints_refuse_update_and_delete(chain, settings):
    settings.GOVREG_AUDIT_SIGNING_KEY = KEY_B64
    checkpoint = sign_checkpoint()
    refused = pytest.raises(DatabaseError, match="audit_auditcheckpoint is append-only: UPDATE")
    with refused, transaction.atomic():
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(tree_size=1)
    refused = pytest.raises(DatabaseError, match="audit_auditcheckpoint is append-only: DELETE")
    with refused, transaction.atomic():
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).delete()


@pytest.mark.postgres
def test_only_the_suites_flush_may_truncate_and_only_for_its_transaction(transactional_db):
    record("test.event", object_type="tests.thing", object_id="1")
    call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
    assert not AuditEvent.objects.exists()
    assert not AuditChainHead.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('govreg.allow_truncate', true)")
        assert cursor.fetchone()[0] in (None, "")
    refused = pytest.raises(DatabaseError, match="append-only: TRUNCATE refused")
    with refused, connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent")


RESTRICTED_APP = """
import django
django.setup()
from django.core.management import call_command
from audit.chain import _SEQ
from audit.services import record, sign_checkpoint
record("test.restricted", object_type="tests.thing", object_id="1")
# a value holding the chain marker goes the ORM way: insert, then move the head
record("test.restricted", object_type="tests.thing", object_id="2", after={"t": _SEQ})
record("test.restricted", object_type="tests.thing", object_id="3")
print("signed", sign_checkpoint().tree_size)
call_command("verify_audit")
"""

REFUSED = [
    "UPDATE audit_auditevent SET action = 'x'",
    "DELETE FROM audit_auditevent",
    "TRUNCATE audit_auditevent",
    "SET govreg.allow_truncate = on; TRUNCATE audit_auditevent",
    "DROP TRIGGER audit_event_append_only ON audit_auditevent",
    "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only",
    "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_event_no_truncate ON audit_auditevent",
    "UPDATE audit_auditcheckpoint SET root_hash = ''",
    "DELETE FROM audit_auditcheckpoint",
    "TRUNCATE audit_auditcheckpoint",
    "ALTER TABLE audit_auditcheckpoint DISABLE TRIGGER ALL",
    *(f"DROP FUNCTION {function}" for function in APPEND_FUNCTIONS),
    "INSERT INTO django_migrations (app, name, applied) VALUES ('audit', 'x', now())",
]


@pytest.fixture
def app_role(transactional_db, settings):
    """A login role of its own for this test database, granted by ``migrate``."""
    role = f"{connection.settings_dict['NAME']}_app"[:63]
    quoted = connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone():
            cursor.execute(f"DROP OWNED BY {quoted}")
            cursor.execute(f"DROP ROLE {quoted}")
        cursor.execute(f"CREATE ROLE {quoted} LOGIN")
    settings.GOVREG_DATABASE_APP_ROLE = role
    call_command("migrate", verbosity=0, interactive=False)  # post_migrate grants
    yield role
    settings.GOVREG_DATABASE_APP_ROLE = None  # the teardown's flush must not grant to it
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {quoted}")
        cursor.execute(f"DROP ROLE {quoted}")


def connect_as(role: str) -> psycopg.Connection:
    params = connection.settings_dict
    return psycopg.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        dbname=params["NAME"],
        user=role,
        autocommit=True,
    )


@pytest.mark.postgres
def test_the_app_role_appends_through_the_function_and_can_rewrite_nothing(app_role, settings):
    params = connection.settings_dict
    url = f"postgres://{app_role}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
    done = subprocess.run(
        [sys.executable, "-c", RESTRICTED_APP],
        capture_output=True,
        text=True,
        env=manage_env(DATABASE_URL=f"{url}/{params['NAME']}", GOVREG_AUDIT_SIGNING_KEY=KEY_B64),
    )
    assert done.returncode == 0, done.stderr
    total = AuditEvent.objects.count()
    assert AuditEvent.objects.filter(action="test.restricted").count() == 3
    assert f"signed {total}" in done.stdout
    assert f"extends the signed checkpoint of {total} events" in done.stdout

    with connect_as(app_role) as app:
        assert app.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0] == total
        for statement in REFUSED:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)
    settings.GOVREG_AUDIT_SIGNING_KEY = KEY_B64
    assert f"verified {total} audit events; chain intact" in verify()


@pytest.mark.postgres
def test_deploy_check_warns_for_the_owner_and_not_for_the_app_role(app_role):
    owner_issues = [
        issue for issue in run_checks(include_deployment_checks=True) if issue.id == "audit.W002"
    ]
    assert owner_issues, "the test connects as the tables' owner (a superuser)"
    assert "can drop or disable the append-only triggers" in owner_issues[0].msg
    assert "audit.W002" not in {issue.id for issue in run_checks()}  # deploy only

    restricted = DatabaseWrapper({**connection.settings_dict, "USER": app_role}, alias="app")
    try:
        assert running_role_problems(restricted) == []
        with restricted.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == app_role
    finally:
        restricted.close()
    with connection.cursor() as cursor:
        cursor.execute(
            f"GRANT TRUNCATE ON audit_auditevent TO {connection.ops.quote_name(app_role)}"
        )
    restricted = DatabaseWrapper({**connection.settings_dict, "USER": app_role}, alias="app")
    try:
        assert running_role_problems(restricted) == [
            f"the database role {app_role!r} holds TRUNCATE on the audit table"
        ]
    finally:
        restricted.close()
    out = StringIO()
    call_command("grant_app_role", app_role, stdout=out)  # re-granting takes it back
    assert f"granted the application's rights to {app_role!r}" in out.getvalue()
    restricted = DatabaseWrapper({**connection.settings_dict, "USER": app_role}, alias="app")
    try:
        assert running_role_problems(restricted) == []
    finally:
        restricted.close()


@pytest.mark.postgres
def test_the_owner_cannot_be_made_the_app_role(db):
    owner = connection.settings_dict["USER"] or "postgres"
    with pytest.raises(CommandError, match="superuser or acts as"):
        call_command("grant_app_role", owner, stdout=StringIO())
    with pytest.raises(CommandError, match="no role"):
        call_command("grant_app_role", "no_such_role_h3a", stdout=StringIO())


def test_roles_are_a_postgresql_matter(db):
    if connection.vendor == "postgresql":
        pytest.skip("checked on the other databases")
    with pytest.raises(CommandError, match="PostgreSQL only"):
        call_command("grant_app_role", "govreg_app", stdout=StringIO())
    assert "audit.W002" not in {i.id for i in run_checks(include_deployment_checks=True)}
