from django.contrib import admin

from accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens can be seen and revoked here; they are issued by command or API only."""

    list_display = ("token_key", "name", "user", "read_only", "created", "expiry")
    list_filter = ("read_only",)
    search_fields = ("name", "user__username", "token_key")
    readonly_fields = ("token_key", "name", "user", "read_only", "created", "expiry")
    exclude = ("digest",)

    def has_add_permission(self, request):
        return False
