from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, teams and roles"

    def ready(self):
        from accounts import schema  # noqa: F401  registers the OpenAPI auth scheme
        from accounts.models import ApiToken, SsoGrant, SsoIdentity
        from accounts.roles import sync_role_permissions
        from audit.tracking import track

        track(ApiToken, exclude=("digest",))
        track(SsoIdentity, exclude=("last_sign_in",))
        track(SsoGrant)
        post_migrate.connect(sync_role_permissions, dispatch_uid="govreg-sync-role-permissions")
        self.forget_cached_grants_on_change()

    @staticmethod
    def forget_cached_grants_on_change():
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed, post_delete, post_save
        from guardian.models import GroupObjectPermission, UserObjectPermission

        from accounts.permissions import grants_changed

        for model in (UserObjectPermission, GroupObjectPermission):
            for signal in (post_save, post_delete):
                signal.connect(grants_changed, sender=model, dispatch_uid=f"govreg-grants-{model}")
        m2m_changed.connect(
            grants_changed,
            sender=get_user_model().groups.through,
            dispatch_uid="govreg-grants-groups",
        )
