from django.contrib import admin

from accounts.admin_base import GovernedAdmin, Who, admin_may_write
from accounts.models import ApiToken, SsoGrant, SsoIdentity
from accounts.roles import Role, has_role


@admin.register(ApiToken)
class ApiTokenAdmin(GovernedAdmin):
    """Tokens can be seen and revoked here; they are issued by command or API only.

    As in the API (``/api/tokens/``) people see and revoke their own tokens; admins
    see and revoke everyone's."""

    list_display = ("token_key", "name", "user", "read_only", "created", "expiry")
    list_filter = ("read_only",)
    search_fields = ("name", "user__username", "token_key")
    readonly_fields = ("token_key", "name", "user", "read_only", "created", "expiry")
    exclude = ("digest",)
    readers = Who.SIGNED_IN
    add_allowed = False
    delete_allowed = True

    def scope_queryset(self, request, queryset):
        queryset = super().scope_queryset(request, queryset)
        if has_role(request.user, Role.ADMIN):
            return queryset
        return queryset.filter(user=request.user)

    def may_write(self, request, action, obj=None):
        user = request.user
        if action != "delete" or not admin_may_write(user):
            return False
        return has_role(user, Role.ADMIN) or obj is None or obj.user_id == user.pk


@admin.register(SsoIdentity)
class SsoIdentityAdmin(GovernedAdmin):
    """Who signs in through the identity provider (accounts/oidc.py): the account, the
    provider's issuer and subject, the first and the last sign-in. Read-only: single
    sign-on writes them; administrators and the global readers (board, auditors, who
    hold the view permission) see them."""

    list_display = ("user", "issuer", "subject", "created_at", "last_sign_in")
    list_filter = ("issuer",)
    search_fields = ("user__username", "subject")
    list_select_related = ("user",)
    readonly_fields = ("user", "issuer", "subject", "created_at", "last_sign_in")
    readers = Who.MODEL_PERM
    writers = None
    add_allowed = False


@admin.register(SsoGrant)
class SsoGrantAdmin(GovernedAdmin):
    """The memberships single sign-on gave, with the provider groups each came from;
    only these are taken away when the provider stops listing the groups. Read-only."""

    list_display = ("user", "group", "provider_groups", "granted_at")
    list_filter = ("group",)
    search_fields = ("user__username", "group__name")
    list_select_related = ("user", "group")
    readonly_fields = ("user", "group", "claims", "granted_at")
    readers = Who.MODEL_PERM
    writers = None
    add_allowed = False

    @admin.display(description="provider groups")
    def provider_groups(self, obj):
        return ", ".join(obj.claims)
