"""Admin pages of the gate: decision rights are policy the admins edit (audited);
deployment requests and approvals are read-only records of decisions."""

from django.contrib import admin

from audit.admin import AuditHistoryMixin
from registry.models import Approval, DecisionRight, DeploymentRequest


@admin.register(DecisionRight)
class DecisionRightAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "action",
        "environment",
        "risk_tier",
        "model",
        "required_approvals",
        "separation_of_duties",
        "approval_valid_for",
        "forbidden",
    )
    list_filter = ("action", "environment", "risk_tier", "forbidden", "separation_of_duties")
    search_fields = ("model__name", "description")
    list_select_related = ("environment", "model")
    autocomplete_fields = ("model",)


class ApprovalInline(admin.TabularInline):
    model = Approval
    extra = 0
    can_delete = False
    fields = ("approver", "verdict", "comment", "roles", "created_at", "lapsed_at", "lapse_reason")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DeploymentRequest)
class DeploymentRequestAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = (
        "pk",
        "model_version",
        "environment",
        "status",
        "outcome",
        "requested_by",
        "created_at",
    )
    list_filter = ("status", "outcome", "environment", "model_version__model__team")
    search_fields = ("model_version__model__name", "model_version__version", "commit")
    list_select_related = ("model_version__model", "environment", "requested_by")
    date_hierarchy = "created_at"
    inlines = [ApprovalInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
