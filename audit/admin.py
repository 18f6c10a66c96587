from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from audit.api.views import CanViewAuditTrail
from audit.models import AuditCheckpoint, AuditEvent, AuditExport, AuditSigningKey


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("seq", "created_at", "actor_username", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "object_id", "request_id")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(admin.ModelAdmin):
    """Signed checkpoints, read-only: beat and ``manage.py audit_checkpoint`` make them."""

    list_display = ("tree_size", "created_at", "key_id", "root_hash")
    readonly_fields = [f.name for f in AuditCheckpoint._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TrailReaderAdmin(admin.ModelAdmin):
    """Read-only, and shown to whoever may read the trail (auditor, board, admin)."""

    def _reads_trail(self, request):
        return request.user.is_active and request.user.has_perm("audit.view_auditevent")

    def has_module_permission(self, request):
        return self._reads_trail(request) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._reads_trail(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditExport)
class AuditExportAdmin(TrailReaderAdmin):
    """Period exports of the trail, with their signed bundles to download (auditors and the
    board ask for them with ``POST /api/audit-exports/``)."""

    list_display = (
        "id",
        "status",
        "percent",
        "events",
        "after",
        "before",
        "object_type",
        "object_id",
        "requested_by",
        "created_at",
        "download_link",
    )
    list_filter = ("status",)
    readonly_fields = [f.name for f in AuditExport._meta.fields] + ["download_link"]

    @admin.display(description="bundle")
    def download_link(self, obj):
        if obj.status != AuditExport.Status.DONE:
            return "-"
        url = reverse("auditexport-download", args=[obj.pk])
        return format_html('<a href="{}">download ({} bytes)</a>', url, obj.size)


@admin.register(AuditSigningKey)
class AuditSigningKeyAdmin(TrailReaderAdmin):
    """Every key that signed checkpoints and bundles; retired ones stay to verify old exports."""

    list_display = ("key_id", "origin", "created_at", "retired_at")
    readonly_fields = [f.name for f in AuditSigningKey._meta.fields]


class AuditHistoryMixin:
    """Shows an object's audit events read-only on its admin change page.

    Put it before the ModelAdmin class in the bases: its template extends whichever
    change form the next class in line uses (guardian's object-permission form, or
    Django's).

    The history is shown to those who may read the audit trail in the API
    (``CanViewAuditTrail``: auditors, the board, admins); others get the plain page.
    """

    change_form_template = "admin/audit_history_change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        extra_context["audit_base_template"] = self._base_change_form_template()
        if CanViewAuditTrail().has_permission(request, self):
            extra_context["audit_events"] = AuditEvent.objects.filter(
                object_type=self.model._meta.label_lower, object_id=str(object_id)
            ).order_by("-seq")[:200]
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        response = super().render_change_form(request, context, add, change, form_url, obj)
        if "audit_events" not in context and response.template_name == self.change_form_template:
            # An add form, or a reader of the record who may not read the trail.
            response.template_name = self._base_change_form_template()
        return response

    def _base_change_form_template(self):
        return super().change_form_template or "admin/change_form.html"
