from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, teams and roles"

    def ready(self):
        from accounts import schema  # noqa: F401  registers the OpenAPI auth scheme
        from accounts.models import ApiToken
        from accounts.roles import sync_role_permissions
        from audit.tracking import track

        track(ApiToken, exclude=("digest",))
        post_migrate.connect(sync_role_permissions, dispatch_uid="govreg-sync-role-permissions")
