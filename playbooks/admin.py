from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from accounts.admin_base import (
    GovernedAdmin,
    GovernedGuardedAdmin,
    GovernedTabularInline,
    Who,
    admin_may_write,
)
from accounts.permissions import follow, may_any, scope_queryset
from playbooks.api.reviews import ACTION_ITEM_SCOPE
from playbooks.choices import ReviewStatus
from playbooks.models import (
    ActionItem,
    Drill,
    Escalation,
    FeedbackReport,
    Incident,
    IncidentNotice,
    InvestigationTask,
    Playbook,
    PlaybookVersion,
    PostIncidentReview,
    Signal,
    StepCompletion,
    TimelineEntry,
    WebhookSource,
)
from playbooks.models.incident import report_overdue_q
from playbooks.services import playbooks as playbook_service
from playbooks.services import reviews as review_service
from playbooks.services import webhook_sources as webhook_service
from playbooks.services.reviews import OPEN_ITEM_STATUSES
from registry.models import MLModel


class ReadOnlyAdmin(GovernedAdmin):
    """Records only services write."""

    writers = None


@admin.register(Playbook)
class PlaybookAdmin(GovernedGuardedAdmin):
    list_display = ("name", "team", "risk_category", "current_version", "active", "updated_at")
    list_filter = ("team", "active", "risk_category")
    search_fields = ("name", "description")
    filter_horizontal = ("thresholds",)
    readonly_fields = ("current_version",)
    delete_allowed = True

    def save_model(self, request, obj, form, change):
        playbook_service.save_playbook(obj, user=request.user)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        playbook_service.publish_version(form.instance, user=request.user)


@admin.register(PlaybookVersion)
class PlaybookVersionAdmin(ReadOnlyAdmin):
    list_display = ("playbook", "number", "created_at", "created_by")
    list_filter = ("playbook",)
    scope_path = "playbook"
    scope_model = Playbook


@admin.register(Signal)
class SignalAdmin(ReadOnlyAdmin):
    """Signals of the user's models; unlinked ones only for global readers (the API's
    filter)."""

    scope_path = "model"
    scope_model = MLModel

    list_display = ("id", "received_at", "source", "metric", "value", "model", "triage")
    list_filter = ("triage", "source")
    search_fields = ("metric", "fingerprint", "model_name")
    date_hierarchy = "received_at"


@admin.register(InvestigationTask)
class InvestigationTaskAdmin(ReadOnlyAdmin):
    """Tasks come from questionable signals and close through the API's verb."""

    scope_path = "model"
    scope_model = MLModel
    list_display = ("title", "model", "status", "created_at")
    list_filter = ("status",)
    readonly_fields = ("dedup_key", "closed_at", "closed_by")


class TimelineInline(GovernedTabularInline):
    model = TimelineEntry
    extra = 0
    can_delete = False
    fields = ("at", "kind", "actor_name", "message")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class StepInline(GovernedTabularInline):
    model = StepCompletion
    extra = 0
    can_delete = False
    readonly_fields = ("step", "completed_at", "completed_by", "note")

    def has_add_permission(self, request, obj=None):
        return False


class EscalationInline(GovernedTabularInline):
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
class IncidentAdmin(GovernedAdmin):
    """Status changes go through the API's verbs (services); the admin edits the text.
    Incidents are opened by signals or the API (the service starts the playbook)."""

    scope_path = "model"
    scope_model = MLModel
    add_allowed = False

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


class ActionItemInline(GovernedTabularInline):
    model = ActionItem
    extra = 0
    can_delete = False
    fields = ("title", "owner", "due_date", "status")
    readonly_fields = ("status",)


class SavesActionItems:
    """Action items edited inline are saved by the service, as the API saves them."""

    def save_formset(self, request, form, formset, change):
        if formset.model is not ActionItem:
            return super().save_formset(request, form, formset, change)
        for item in formset.save(commit=False):
            review_service.save_action_item(item)


@admin.register(PostIncidentReview)
class PostIncidentReviewAdmin(SavesActionItems, GovernedAdmin):
    """Reviews of the team's incidents; a completed review is final (read-only)."""

    list_display = ("incident", "status", "completed_at")
    list_filter = ("status",)
    inlines = [ActionItemInline]
    scope_path = "incident__model"
    scope_model = MLModel

    def may_write(self, request, action, obj=None):
        if obj is not None and obj.status == ReviewStatus.COMPLETED:
            return False
        return super().may_write(request, action, obj)

    def save_model(self, request, obj, form, change):
        review_service.save_review(obj)


@admin.register(Drill)
class DrillAdmin(SavesActionItems, GovernedAdmin):
    list_display = ("title", "playbook", "scheduled_for", "status")
    list_filter = ("status",)
    filter_horizontal = ("participants",)
    inlines = [ActionItemInline]
    scope_path = "playbook"
    scope_model = Playbook
    delete_allowed = True

    def save_model(self, request, obj, form, change):
        review_service.save_drill(obj)


@admin.register(ActionItem)
class ActionItemAdmin(GovernedAdmin):
    """Closing an item applies its changes: use the API's /complete, not this form.
    An item belongs to a review (its incident's model decides) or a drill (its
    playbook decides); a closed item is read-only."""

    list_display = ("title", "owner", "due_date", "status", "threshold", "risk")
    list_filter = ("status",)
    search_fields = ("title",)
    raw_id_fields = ("review", "drill", "risk", "threshold")
    readonly_fields = ("status", "evaluation", "closed_at", "closed_by", "outcome")

    def scope_queryset(self, request, queryset):
        return scope_queryset(queryset, request.user, ACTION_ITEM_SCOPE)

    def scope_object(self, obj):
        return follow(obj, ACTION_ITEM_SCOPE)

    def parents(self, request):
        """Reviews and drills the user may add items under."""
        registry = self.admin_site._registry
        return (
            registry[PostIncidentReview].changeable(request),
            registry[Drill].changeable(request),
        )

    def may_write(self, request, action, obj=None):
        if obj is None:
            user = request.user
            return admin_may_write(user) and (
                may_any(user, "change", MLModel) or may_any(user, "change", Playbook)
            )
        if obj.status not in OPEN_ITEM_STATUSES:
            return False
        return super().may_write(request, action, obj)

    def has_add_permission(self, request):
        return self.may_write(request, "change")

    def choices_for(self, db_field, request):
        reviews, drills = self.parents(request)
        if db_field.name == "review":
            return reviews
        if db_field.name == "drill":
            return drills
        return super().choices_for(db_field, request)

    def save_model(self, request, obj, form, change):
        review_service.save_action_item(obj)


@admin.register(WebhookSource)
class WebhookSourceAdmin(GovernedAdmin):
    """Signed webhook sources: admins create them and rotate their secrets, which are
    shown once on the page that answers (never in a message or a cookie)."""

    readers = Who.MODEL_PERM
    writers = Who.ADMINS
    list_display = ("name", "team", "active", "created_at", "secret_rotated_at")
    list_filter = ("active",)
    search_fields = ("name",)
    fields = ("name", "team", "description", "active")
    actions = ["rotate_secret"]

    def get_readonly_fields(self, request, obj=None):
        return ("name", "team") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = webhook_service.create_source(
            name=obj.name, team=obj.team, description=obj.description, user=request.user
        )
        obj.pk = issued.source.pk
        obj._state.adding = False
        request._govreg_issued_secret = issued

    def response_add(self, request, obj, post_url_continue=None):
        return self._show_secret(request, request._govreg_issued_secret)

    def _show_secret(self, request, issued):
        return TemplateResponse(
            request,
            "playbooks/admin/webhook_secret.html",
            {
                **self.admin_site.each_context(request),
                "source": issued.source,
                "secret": issued.secret,
                "url": request.build_absolute_uri(
                    reverse("signal-webhook", kwargs={"source": issued.source.name})
                ),
                "back": reverse("admin:playbooks_webhooksource_changelist"),
                "title": f"Secret of {issued.source.name}",
            },
        )

    @admin.action(description="Rotate the secret (shown once)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        sources = list(queryset[:2])
        if len(sources) != 1:
            self.message_user(request, "Rotate one source at a time.", level="warning")
            return None
        return self._show_secret(request, webhook_service.rotate_secret(sources[0], request.user))


@admin.register(FeedbackReport)
class FeedbackReportAdmin(ReadOnlyAdmin):
    """Reports on the user's models; the team answers through the API's reply and status
    verbs (audited), so the admin only reads. The status token's hash is not shown."""

    scope_path = "model"
    scope_model = MLModel
    list_display = ("id", "received_at", "model", "environment", "category", "channel", "status")
    list_filter = ("status", "category", "channel")
    search_fields = ("text", "public_reply", "model__name")
    exclude = ("status_token_hash",)
    list_select_related = ("model", "environment")
    date_hierarchy = "received_at"


@admin.register(IncidentNotice)
class IncidentNoticeAdmin(ReadOnlyAdmin):
    """Public notices of the user's models' incidents; written and published through the
    API (audited)."""

    scope_path = "incident__model"
    scope_model = MLModel
    list_display = ("title", "incident", "status", "published_at")
    list_filter = ("status",)
    search_fields = ("title", "what_is_known")
    list_select_related = ("incident",)
