from django.contrib import admin
from django.utils import timezone
from guardian.admin import GuardedModelAdmin

from audit.admin import AuditHistoryMixin
from playbooks.models import (
    ActionItem,
    Drill,
    Escalation,
    Incident,
    InvestigationTask,
    Playbook,
    PlaybookVersion,
    PostIncidentReview,
    Signal,
    StepCompletion,
    TimelineEntry,
)
from playbooks.models.incident import report_overdue_q
from playbooks.services import playbooks as playbook_service


class ReadOnlyAdmin(AuditHistoryMixin, admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Playbook)
class PlaybookAdmin(AuditHistoryMixin, GuardedModelAdmin):
    list_display = ("name", "team", "risk_category", "current_version", "active", "updated_at")
    list_filter = ("team", "active", "risk_category")
    search_fields = ("name", "description")
    filter_horizontal = ("thresholds",)
    readonly_fields = ("current_version",)

    def save_model(self, request, obj, form, change):
        playbook_service.save_playbook(obj, user=request.user)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        playbook_service.publish_version(form.instance, user=request.user)


@admin.register(PlaybookVersion)
class PlaybookVersionAdmin(ReadOnlyAdmin):
    list_display = ("playbook", "number", "created_at", "created_by")
    list_filter = ("playbook",)


@admin.register(Signal)
class SignalAdmin(ReadOnlyAdmin):
    list_display = ("id", "received_at", "source", "metric", "value", "model", "triage")
    list_filter = ("triage", "source")
    search_fields = ("metric", "fingerprint", "model_name")
    date_hierarchy = "received_at"


@admin.register(InvestigationTask)
class InvestigationTaskAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ("title", "model", "status", "created_at")
    list_filter = ("status",)
    readonly_fields = ("dedup_key", "closed_at", "closed_by")


class TimelineInline(admin.TabularInline):
    model = TimelineEntry
    extra = 0
    can_delete = False
    fields = ("at", "kind", "actor_name", "message")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class StepInline(admin.TabularInline):
    model = StepCompletion
    extra = 0
    can_delete = False
    readonly_fields = ("step", "completed_at", "completed_by", "note")

    def has_add_permission(self, request, obj=None):
        return False


class EscalationInline(admin.TabularInline):
    model = Escalation
    extra = 0
    can_delete = False
    readonly_fields = ("reason", "level", "group_name", "minutes", "notified_at", "webhook_state")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


class ReportOverdueFilter(admin.SimpleListFilter):
    """Serious incidents whose report deadline passed with nothing recorded."""

    title = "report overdue"
    parameter_name = "report_overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request, queryset):
        overdue = report_overdue_q(timezone.now())
        if self.value() == "yes":
            return queryset.filter(overdue)
        if self.value() == "no":
            return queryset.exclude(overdue)
        return queryset


@admin.register(Incident)
class IncidentAdmin(AuditHistoryMixin, admin.ModelAdmin):
    """Status changes go through the API's verbs (services); the admin edits the text."""

    list_display = (
        "id",
        "title",
        "model",
        "severity",
        "status",
        "opened_at",
        "report_deadline",
        "report_overdue",
    )
    list_filter = ("status", "severity", "serious_category", ReportOverdueFilter)
    search_fields = ("title", "description")
    date_hierarchy = "opened_at"
    readonly_fields = (
        "status",
        "escalation_level",
        "opened_at",
        "acknowledged_at",
        "contained_at",
        "resolved_at",
        "closed_at",
        "serious_category",
        "aware_at",
        "report_deadline",
        "deadline_history",
        "report_overdue",
        "report_overdue_escalated_at",
        "reported_at",
        "not_reportable_at",
        "not_reportable_by",
        "not_reportable_reason",
    )
    raw_id_fields = ("model_version", "deployment", "playbook_version")
    filter_horizontal = ("risks", "dataset_versions")
    inlines = [StepInline, EscalationInline, TimelineInline]

    @admin.display(boolean=True, description="report overdue")
    def report_overdue(self, obj):
        return obj.report_overdue


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    fields = ("title", "owner", "due_date", "status")
    readonly_fields = ("status",)


@admin.register(PostIncidentReview)
class PostIncidentReviewAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ("incident", "status", "completed_at")
    list_filter = ("status",)
    inlines = [ActionItemInline]


@admin.register(Drill)
class DrillAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ("title", "playbook", "scheduled_for", "status")
    list_filter = ("status",)
    filter_horizontal = ("participants",)
    inlines = [ActionItemInline]


@admin.register(ActionItem)
class ActionItemAdmin(AuditHistoryMixin, admin.ModelAdmin):
    """Closing an item applies its changes: use the API's /complete, not this form."""

    list_display = ("title", "owner", "due_date", "status", "threshold", "risk")
    list_filter = ("status",)
    search_fields = ("title",)
    raw_id_fields = ("review", "drill", "risk", "threshold", "evaluation")
