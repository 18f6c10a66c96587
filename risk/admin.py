from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.admin_base import (
    GovernedAdmin,
    GovernedGuardedAdmin,
    GovernedTabularInline,
    Who,
    adopt,
    model_fields,
)
from registry.models import MLModel
from risk import services
from risk.choices import AcceptanceStatus, ReviewState
from risk.models import (
    Control,
    Evaluation,
    RedTeamExercise,
    RedTeamFinding,
    RedTeamReminder,
    Reminder,
    RequiredEvaluation,
    Risk,
    RiskAcceptance,
    RiskAcceptanceApproval,
    RiskMatrix,
    Threshold,
    ThresholdRecalibration,
)


@admin.register(RiskMatrix)
class RiskMatrixAdmin(GovernedAdmin):
    """Everyone signed in reads the matrices; only admins redraw them (as in the API)."""

    readers = Who.SIGNED_IN
    writers = Who.ADMINS
    list_display = ("name", "likelihood_size", "impact_size", "is_default", "updated_at")
    list_filter = ("is_default",)

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change:
                changed = obj.relevel_risks()
                if changed:
                    self.message_user(request, f"{changed} risk(s) re-levelled.", messages.INFO)


class ReviewStateFilter(admin.SimpleListFilter):
    """The board's "what needs looking at" list: reviews due soon or overdue."""

    title = "review"
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return ReviewState.choices

    def queryset(self, request, queryset):
        if self.value() in ReviewState.values:
            return queryset.review_state(self.value())
        return queryset


class AboveAppetiteFilter(admin.SimpleListFilter):
    title = "above appetite"
    parameter_name = "above_appetite"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.above_appetite()
        if self.value() == "no":
            return queryset.exclude(pk__in=queryset.above_appetite().values("pk"))
        return queryset


class ControlInline(GovernedTabularInline):
    model = Control
    extra = 0
    fields = ("title", "owner", "status", "evidence_url")
    autocomplete_fields = ()


class ThresholdInline(GovernedTabularInline):
    model = Threshold
    extra = 0
    fields = ("metric", "comparator", "warning_value", "critical_value", "model_version")
    readonly_fields = ("metric", "comparator", "warning_value", "critical_value", "model_version")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Risk)
class RiskAdmin(GovernedGuardedAdmin):
    """The owning team's risks (board, auditors and admins see all); a new risk is
    created by the service, which gives its team its rights."""

    list_display = (
        "title",
        "team",
        "category",
        "inherent_level",
        "residual_level",
        "appetite",
        "treatment",
        "status",
        "owner",
        "next_review_date",
    )
    list_filter = (
        ReviewStateFilter,
        AboveAppetiteFilter,
        "status",
        "treatment",
        "residual_level",
        "category",
        "team",
    )
    search_fields = ("title", "description", "hypothesis")
    readonly_fields = ("inherent_level", "residual_level", "last_reviewed_at")
    filter_horizontal = (
        "ml_models",
        "model_versions",
        "dataset_versions",
        "features",
        "deployments",
    )
    list_select_related = ("team", "owner")
    inlines = [ControlInline, ThresholdInline]
    actions = ["mark_reviewed"]
    delete_allowed = True

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "team", "matrix") if obj is not None else fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            adopt(obj, services.create_risk(**model_fields(form)))

    @admin.action(description="Mark selected risks as reviewed today", permissions=["change"])
    def mark_reviewed(self, request, queryset):
        reviewed = 0
        for risk in queryset:
            if not self.has_change_permission(request, risk):
                self.message_user(request, f"{risk}: you may not change it.", messages.ERROR)
                continue
            try:
                services.record_review(risk, request.user, notes="Reviewed in the admin.")
            except ValidationError as exc:
                self.message_user(request, f"{risk}: {' '.join(exc.messages)}", messages.ERROR)
                continue
            reviewed += 1
        self.message_user(request, f"{reviewed} risk(s) marked reviewed.")


class RiskAcceptanceApprovalInline(GovernedTabularInline):
    model = RiskAcceptanceApproval
    extra = 0
    can_delete = False
    fields = ("approver_username", "roles", "verdict", "comment", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class ExpiringFilter(admin.SimpleListFilter):
    """Accepted risks whose acceptance lapses within the notice period."""

    title = "expiring soon"
    parameter_name = "expiring"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            now = timezone.now()
            horizon = now + timedelta(days=settings.GOVREG_RISK_ACCEPTANCE_NOTICE_DAYS)
            return queryset.filter(
                status=AcceptanceStatus.ACCEPTED, expires_at__gt=now, expires_at__lte=horizon
            )
        return queryset


@admin.register(RiskAcceptance)
class RiskAcceptanceAdmin(GovernedAdmin):
    """Read-only: acceptances are decided through the API (decision rights apply)."""

    writers = None
    scope_path = "risk"
    scope_model = Risk

    list_display = ("risk", "status", "expires_at", "requested_by", "decided_by", "decided_at")
    list_filter = (ExpiringFilter, "status")
    list_select_related = ("risk", "requested_by", "decided_by")
    inlines = [RiskAcceptanceApprovalInline]


class ThresholdForm(forms.ModelForm):
    recalibration_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when the warning or critical value changes; the old values "
        "are kept in the recalibration history.",
    )

    class Meta:
        model = Threshold
        fields = [
            "risk",
            "model_version",
            "deployment",
            "metric",
            "comparator",
            "warning_value",
            "critical_value",
            "hypothesis",
            "expected_every",
            "grace",
        ]

    def clean(self):
        cleaned = super().clean()
        values_changed = {"warning_value", "critical_value"} & set(self.changed_data)
        reason = (cleaned.get("recalibration_reason") or "").strip()
        if self.instance.pk and values_changed and not reason:
            self.add_error("recalibration_reason", "Say why the values change.")
        return cleaned


class ThresholdRecalibrationInline(GovernedTabularInline):
    model = ThresholdRecalibration
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "changed_by_username",
        "old_warning_value",
        "old_critical_value",
        "new_warning_value",
        "new_critical_value",
        "reason",
        "source_label",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Threshold)
class ThresholdAdmin(GovernedAdmin):
    """Thresholds of the team's risks; new values are a recalibration (kept, audited)."""

    form = ThresholdForm
    scope_path = "risk"
    scope_model = Risk
    delete_allowed = True
    list_display = (
        "metric",
        "comparator",
        "warning_value",
        "critical_value",
        "risk",
        "expected_every",
        "last_reading_at",
        "silent_since",
    )
    list_filter = ("comparator", ("silent_since", admin.EmptyFieldListFilter))
    search_fields = ("metric", "hypothesis")
    list_select_related = ("risk",)
    readonly_fields = ("last_reading_at", "silent_since")
    inlines = [ThresholdRecalibrationInline]

    def save_model(self, request, obj, form, change):
        if change and {"warning_value", "critical_value"} & set(form.changed_data):
            warning, critical = obj.warning_value, obj.critical_value
            previous = Threshold.objects.get(pk=obj.pk)
            obj.warning_value = previous.warning_value
            obj.critical_value = previous.critical_value
            with transaction.atomic():
                super().save_model(request, obj, form, change)
                services.recalibrate_threshold(
                    obj,
                    warning=warning,
                    critical=critical,
                    user=request.user,
                    reason=form.cleaned_data["recalibration_reason"],
                    source="admin",
                )
            return
        super().save_model(request, obj, form, change)


@admin.register(Evaluation)
class EvaluationAdmin(GovernedAdmin):
    """Read-only: results come from CI through the API, and the gate trusts them, so no
    form may write or rewrite one."""

    writers = None
    scope_path = "model_version__model"
    scope_model = MLModel
    list_display = ("name", "kind", "model_version", "outcome", "reviewer", "created_at")
    list_filter = ("kind", "outcome")
    search_fields = ("name", "suite", "hypothesis", "run_reference")
    list_select_related = ("model_version__model", "reviewer")
    readonly_fields = ("passed",)


@admin.register(RequiredEvaluation)
class RequiredEvaluationAdmin(GovernedAdmin):
    """Everyone signed in reads what each tier requires; only admins change it."""

    readers = Who.SIGNED_IN
    writers = Who.ADMINS
    delete_allowed = True
    list_display = ("risk_tier", "kind")
    list_filter = ("risk_tier",)


@admin.register(Reminder)
class ReminderAdmin(GovernedAdmin):
    list_display = ("risk", "kind", "due_date", "recipient_email", "sent_at")
    list_filter = ("kind",)
    list_select_related = ("risk",)
    writers = None
    scope_path = "risk"
    scope_model = Risk


@admin.register(Control)
class ControlAdmin(GovernedAdmin):
    scope_path = "risk"
    scope_model = Risk
    delete_allowed = True
    list_display = ("title", "risk", "owner", "status")
    list_filter = ("status",)
    list_select_related = ("risk", "owner")


class RedTeamFindingInline(GovernedTabularInline):
    model = RedTeamFinding
    fields = ("title", "severity", "status", "risk", "evaluation_name", "fixed_by", "acceptance")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(RedTeamExercise)
class RedTeamExerciseAdmin(GovernedAdmin):
    """Read-only for the board: exercises are planned and moved through the API
    (``risk.redteam``), which checks the participants and re-judges the gate."""

    writers = None
    list_display = ("title", "team", "status", "starts_on", "ends_on")
    list_filter = ("status", "team")
    search_fields = ("title", "scope", "method")
    list_select_related = ("team",)
    filter_horizontal = ("model_versions", "participants")
    inlines = [RedTeamFindingInline]


@admin.register(RedTeamFinding)
class RedTeamFindingAdmin(GovernedAdmin):
    """Read-only: a finding's status follows its red-team evaluation and its risk's
    acceptance; it is recorded through the API, which creates or raises the risk."""

    writers = None
    scope_path = "exercise"
    scope_model = RedTeamExercise
    list_display = ("title", "exercise", "severity", "status", "risk", "evaluation_name")
    list_filter = ("severity", "status")
    search_fields = ("title", "reproduction", "evaluation_name")
    list_select_related = ("exercise", "risk")


@admin.register(RedTeamReminder)
class RedTeamReminderAdmin(GovernedAdmin):
    writers = None
    scope_path = "ml_model"
    scope_model = MLModel
    list_display = ("ml_model", "due_date", "last_completed_on", "sent_at")
    list_select_related = ("ml_model",)
