from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from audit.admin import AuditHistoryMixin
from registry.models import MLModel


@admin.register(MLModel)
class MLModelAdmin(AuditHistoryMixin, GuardedModelAdmin):
    list_display = ("name", "team", "risk_tier", "card_complete", "updated_at")
    list_filter = ("risk_tier", "team")
    search_fields = ("name", "description")

    @admin.display(boolean=True)
    def card_complete(self, obj):
        return obj.card_complete
