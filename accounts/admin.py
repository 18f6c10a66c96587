from django.contrib import admin

from accounts.admin_base import GovernedAdmin, Who, admin_may_write
from accounts.models import ApiToken
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
