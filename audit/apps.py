from django.apps import AppConfig
from django.conf import settings
from django.db import connections
from django.db.models.signals import post_migrate

from audit.database_roles import grant_app_role


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from audit import (
            system_checks,  # noqa: F401  (registers the checks)
            tracking,
        )

        tracking.connect_identity_models()
        from audit.ui import console  # noqa: F401  (navigation and the home panel)

        post_migrate.connect(_grant_app_role_after_migrate, sender=self)


def _grant_app_role_after_migrate(sender, using, **kwargs):
    """With ``GOVREG_DATABASE_APP_ROLE`` set, ``migrate`` ends by re-granting that role."""
    role = settings.GOVREG_DATABASE_APP_ROLE
    connection = connections[using]
    if role and connection.vendor == "postgresql":
        grant_app_role(connection, role)
