"""Admin for lineage. Dataset version status and notes change through the service (audited)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.admin_base import GovernedAdmin, Who, admin_may_write
from accounts.permissions import may_any
from lineage.models import Dataset, DatasetVersion, Job, LineageEvent, Namespace, Run
from lineage.services import NOTE_FIELDS, change_dataset_version


class ReadOnlyAdmin(GovernedAdmin):
    """Lineage records come from events and imports; everyone signed in reads them
    (as in the API); the admin only shows them."""

    readers = Who.SIGNED_IN
    writers = None


@admin.register(Namespace)
class NamespaceAdmin(ReadOnlyAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyAdmin):
    list_display = ["name", "namespace", "updated_at"]
    list_select_related = ["namespace"]
    search_fields = ["name", "namespace__name"]


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["name", "namespace", "updated_at"]
    list_select_related = ["namespace"]
    search_fields = ["name", "namespace__name"]


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["run_id", "job", "state", "started_at", "ended_at"]
    list_select_related = ["job__namespace"]
    list_filter = ["state"]
    search_fields = ["run_id", "job__name"]


@admin.register(LineageEvent)
class LineageEventAdmin(ReadOnlyAdmin):
    list_display = ["event_time", "kind", "event_type", "job_namespace", "job_name", "run_id"]
    list_filter = ["kind", "event_type"]
    search_fields = ["job_name", "run_id", "body_hash"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(GovernedAdmin):
    """Status and notes are editable by governing users (the API's rule); the rest is
    read-only."""

    readers = Who.SIGNED_IN
    add_allowed = False

    list_display = ["dataset", "version", "status", "producing_run", "created_at"]
    list_filter = ["status"]
    list_select_related = ["dataset__namespace", "producing_run"]
    search_fields = ["dataset__name", "version", "content_hash"]
    fields = ["dataset", "version", "content_hash", "producing_run", "status", *NOTE_FIELDS]
    readonly_fields = ["dataset", "version", "content_hash", "producing_run"]

    def may_write(self, request, action, obj=None):
        user = request.user
        if action != "change" or not admin_may_write(user):
            return False
        return may_any(user, "change", DatasetVersion)

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in NOTE_FIELDS}
        original = DatasetVersion.objects.get(pk=obj.pk)
        for name in ("status", *NOTE_FIELDS):
            setattr(obj, name, getattr(original, name))  # the service applies the change
        try:
            change_dataset_version(
                obj, actor=request.user, status=form.cleaned_data["status"], **changes
            )
        except (PermissionDenied, ValidationError) as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
