"""Admin pages of the gate: decision rights are policy the admins edit (audited);
deployment requests and approvals are read-only records of decisions."""

from django.contrib import admin

from accounts.admin_base import GovernedAdmin, GovernedTabularInline, Who
from registry.gate.api import visible_requests
from registry.models import Approval, DecisionRight, DeploymentRequest


@admin.register(DecisionRight)
class DecisionRightAdmin(GovernedAdmin):
    """Policy: read by holders of the view permission (board, auditors, admins),
    changed by holders of the model permissions (admins)."""

    readers = Who.MODEL_PERM
    writers = Who.MODEL_PERM
    delete_allowed = True
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


class ApprovalInline(GovernedTabularInline):
    model = Approval
    extra = 0
    can_delete = False
    fields = ("approver", "verdict", "comment", "roles", "created_at", "lapsed_at", "lapse_reason")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DeploymentRequest)
class DeploymentRequestAdmin(GovernedAdmin):
    """Read-only: requests are asked, approved and reported through the gate's API and
    pages. Listed as the API lists them: requests of models the user may view or
    approve."""

    writers = None
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

    def scope_queryset(self, request, queryset):
        return queryset.filter(pk__in=visible_requests(request.user).values("pk"))
