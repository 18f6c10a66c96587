from django.contrib import admin

from audit.models import AuditCheckpoint, AuditEvent


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


class AuditHistoryMixin:
    """Shows an object's audit events read-only on its admin change page.

    Put it first in the bases: its template extends whichever change form the
    next class in line uses (guardian's object-permission form, or Django's).
    """

    change_form_template = "admin/audit_history_change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        base = super().change_form_template or "admin/change_form.html"
        extra_context["audit_base_template"] = base
        extra_context["audit_events"] = AuditEvent.objects.filter(
            object_type=self.model._meta.label_lower, object_id=str(object_id)
        ).order_by("-seq")[:200]
        return super().change_view(request, object_id, form_url, extra_context)
