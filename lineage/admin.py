"""Admin for lineage. Dataset version status and notes change through the service (audited)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.admin_base import GovernedAdmin, Who, admin_may_write
from accounts.permissions import may_any
from lineage.models import (
    ColumnLineage,
    Dataset,
    DatasetSymlink,
    DatasetVersion,
    FieldTag,
    Job,
    JobDataset,
    JobVersion,
    LineageEvent,
    Namespace,
    Run,
    RunInput,
    RunOutput,
    Tag,
)
from lineage.queue import caught_up
from lineage.services import NOTE_FIELDS, change_dataset_version


class CaughtUpAdmin(GovernedAdmin):
    """Lineage admin pages project what is queued before they read (``lineage.queue``)."""

    @caught_up
    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, extra_context)

    @caught_up
    def change_view(self, request, object_id, form_url="", extra_context=None):
        return super().change_view(request, object_id, form_url, extra_context)


class ReadOnlyAdmin(CaughtUpAdmin):
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


@admin.register(JobVersion)
class JobVersionAdmin(ReadOnlyAdmin):
    list_display = ["version", "job", "location", "created_at"]
    list_select_related = ["job__namespace"]
    search_fields = ["version", "job__name", "location"]


@admin.register(RunInput, RunOutput)
class RunEdgeAdmin(ReadOnlyAdmin):
    """A lineage edge: a run read (RunInput) or wrote (RunOutput) a dataset version."""

    list_display = ["run", "dataset_version", "created_at"]
    list_select_related = ["run", "dataset_version__dataset__namespace"]
    search_fields = ["run__run_id", "dataset_version__dataset__name", "dataset_version__version"]


@admin.register(ColumnLineage)
class ColumnLineageAdmin(ReadOnlyAdmin):
    list_display = ["output_field", "dataset_version", "input_field", "input_dataset"]
    list_select_related = ["dataset_version__dataset__namespace", "input_dataset__namespace"]
    search_fields = ["output_field", "input_field", "dataset_version__dataset__name"]


@admin.register(JobDataset)
class JobDatasetAdmin(ReadOnlyAdmin):
    """A job's declared lineage (its newest JobEvent's inputs and outputs)."""

    list_display = ["job", "direction", "dataset"]
    list_select_related = ["job__namespace", "dataset__namespace"]
    list_filter = ["direction"]
    search_fields = ["job__name", "dataset__name"]


@admin.register(DatasetSymlink)
class DatasetSymlinkAdmin(ReadOnlyAdmin):
    list_display = ["namespace", "name", "type", "dataset"]
    list_select_related = ["dataset__namespace"]
    search_fields = ["namespace", "name", "dataset__name"]


@admin.register(Tag)
class TagAdmin(ReadOnlyAdmin):
    """Tags are written by the lineage writers through the API (audited there)."""

    list_display = ["name", "description", "updated_at"]
    search_fields = ["name"]


@admin.register(FieldTag)
class FieldTagAdmin(ReadOnlyAdmin):
    list_display = ["dataset", "field", "tag"]
    list_select_related = ["dataset__namespace", "tag"]
    search_fields = ["dataset__name", "field", "tag__name"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(CaughtUpAdmin):
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
