"""Django system checks for the audit trail's deployment (``manage.py check --deploy``)."""

from django.conf import settings
from django.core.checks import Error, Info, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection

from audit.database_roles import running_role_problems
from audit.signing import log_origin, signing_key


@register(Tags.security)
def check_signing_key(app_configs=None, **kwargs):
    """A signing key or origin that is set but unusable stops every command, not just signing."""
    errors = []
    try:
        log_origin()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="audit.E002"))
    if settings.GOVREG_AUDIT_SIGNING_KEY or settings.GOVREG_SIGNING_KEY_FILE:
        try:
            signing_key()
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="audit.E001"))
    return errors


@register(Tags.security, deploy=True)
def check_signing_key_in_production(app_configs=None, **kwargs):
    if settings.DEBUG or settings.GOVREG_AUDIT_SIGNING_KEY or settings.GOVREG_SIGNING_KEY_FILE:
        return []
    return [
        Warning(
            "GOVREG_SIGNING_KEY_FILE (or GOVREG_AUDIT_SIGNING_KEY) is not set: no signed "
            "checkpoint is made over the audit trail, so removing its last events or "
            "re-hashing it goes undetected, and no export can be signed.",
            hint="Generate a key (openssl genpkey -algorithm ed25519 -out audit-key.pem) and "
            "set GOVREG_SIGNING_KEY_FILE to its path; see README, Audit trail.",
            id="audit.W001",
        )
    ]


@register(Tags.security, deploy=True)
def check_audit_table_owner(app_configs=None, **kwargs):
    """PostgreSQL: the running role must not be able to disable the append-only triggers."""
    if connection.vendor != "postgresql":
        return []
    try:
        problems = running_role_problems(connection)
    except DatabaseError as exc:
        return [Info(f"could not check who owns the audit table: {exc}", id="audit.I001")]
    return [
        Warning(
            f"{problem}: it can drop or disable the append-only triggers and rewrite or "
            "truncate the audit trail.",
            hint="Run migrations as the owner role and the web, workers and beat as a role "
            "granted by `manage.py grant_app_role` (see README, Production mode).",
            id="audit.W002",
        )
        for problem in problems
    ]
