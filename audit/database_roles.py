"""Running the application under a PostgreSQL role that cannot rewrite the trail.

The role that owns a table can drop or disable its triggers, so the audit
tables are only append-only against roles that do not own them. Production
runs migrations as an owner role and the web, workers and beat as an
application role granted here: full use of every other table, and on the
audit tables only ``SELECT`` and ``INSERT`` (events, checkpoints, tree nodes; no
``DELETE`` of the chain head or of a signing key; appends go through the
``audit_append()`` and ``audit_append_many()`` functions, which run with the
caller's rights).
"""

from django.db.backends.base.base import BaseDatabaseWrapper

APPEND_ONLY_TABLES = ("audit_auditevent", "audit_auditcheckpoint", "audit_audittreenode")
CHAIN_HEAD_TABLE = "audit_auditchainhead"
# Retiring a key updates its row; none is ever deleted, or old exports would not verify.
NO_DELETE_TABLES = (CHAIN_HEAD_TABLE, "audit_auditsigningkey")
MIGRATIONS_TABLE = "django_migrations"
APPEND_FUNCTIONS = (
    "audit_append(timestamptz, bigint, varchar, varchar, varchar, varchar, varchar,"
    " jsonb, jsonb, varchar, varchar, text, text, text)",
    "audit_append_many(timestamptz[], bigint[], varchar[], varchar[], varchar[], varchar[],"
    " varchar[], jsonb[], jsonb[], varchar[], varchar[], text[], text[], text[])",
    "audit_seed_head()",
)


class RoleError(Exception):
    """The role cannot be made the restricted application role."""


def describe_role(connection: BaseDatabaseWrapper, role: str) -> dict | None:
    """Whether ``role`` exists, is a superuser, or may act as the audit table's owner."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.rolsuper, pg_has_role(r.oid, c.relowner, 'MEMBER'),"
            " pg_get_userbyid(c.relowner)"
            " FROM pg_roles r, pg_class c"
            " WHERE r.rolname = %s AND c.oid = to_regclass(%s)",
            [role, APPEND_ONLY_TABLES[0]],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return {"superuser": row[0], "acts_as_owner": row[1], "owner": row[2]}


def grant_app_role(connection: BaseDatabaseWrapper, role: str) -> list[str]:
    """Grant ``role`` the application's rights in the current schema; returns the statements.

    Run as the tables' owner, after every ``migrate`` (``GOVREG_DATABASE_APP_ROLE``
    makes ``migrate`` do it). Idempotent: the role's table rights are revoked
    and granted afresh, so a right given by hand does not linger.
    """
    described = describe_role(connection, role)
    if described is None:
        raise RoleError(f"no role {role!r} (or the audit tables are not migrated yet)")
    if described["superuser"] or described["acts_as_owner"]:
        raise RoleError(
            f"role {role!r} is a superuser or acts as {described['owner']!r}, the owner of the"
            " audit tables: it could still disable their triggers; use a role of its own"
        )
    quote = connection.ops.quote_name
    who = quote(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
    append_only = ", ".join(quote(name) for name in APPEND_ONLY_TABLES)
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
        f"REVOKE UPDATE, DELETE ON {append_only} FROM {who}",
        f"REVOKE DELETE ON {', '.join(quote(name) for name in NO_DELETE_TABLES)} FROM {who}",
        f"REVOKE INSERT, UPDATE, DELETE ON {quote(MIGRATIONS_TABLE)} FROM {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
        *(f"GRANT EXECUTE ON FUNCTION {function} TO {who}" for function in APPEND_FUNCTIONS),
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements


def running_role_problems(connection: BaseDatabaseWrapper) -> list[str]:
    """What the connected role could do to the audit trail that it should not (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, pg_get_userbyid(c.relowner),"
            " pg_has_role(c.relowner, 'MEMBER'),"
            " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),"
            " has_table_privilege(c.oid, 'UPDATE'), has_table_privilege(c.oid, 'DELETE'),"
            " has_table_privilege(c.oid, 'TRUNCATE')"
            " FROM pg_class c WHERE c.oid = to_regclass(%s)",
            [APPEND_ONLY_TABLES[0]],
        )
        row = cursor.fetchone()
    if row is None:
        return []  # not migrated yet: nothing to own
    user, owner, acts_as_owner, superuser, *rights = row
    if superuser:
        return [f"the database role {user!r} is a superuser"]
    if acts_as_owner:
        who = "owns" if user == owner else f"acts as {owner!r}, which owns"
        return [f"the database role {user!r} {who} the audit table"]
    names = ("UPDATE", "DELETE", "TRUNCATE")
    granted = [name for name, held in zip(names, rights, strict=True) if held]
    if granted:
        return [f"the database role {user!r} holds {', '.join(granted)} on the audit table"]
    return []
