from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone
from guardian.admin import GuardedModelAdmin

from accounts.permissions import grant_team_access
from audit.admin import AuditHistoryMixin
from risk import services
from risk.choices import AcceptanceStatus, ReviewState
from risk.models import (
    Control,
    Evaluation,
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
class RiskMatrixAdmin(AuditHistoryMixin, admin.ModelAdmin):
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


class ControlInline(admin.TabularInline):
    model = Control
    extra = 0
    fields = ("title", "owner", "status", "evidence_url")
    autocomplete_fields = ()


class ThresholdInline(admin.TabularInline):
    model = Threshold
    extra = 0
    fields = ("metric", "comparator", "warning_value", "critical_value", "model_version")
    readonly_fields = ("metric", "comparator", "warning_value", "critical_value", "model_version")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Risk)
class RiskAdmin(AuditHistoryMixin, GuardedModelAdmin):
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

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if not change:
                grant_team_access(obj, obj.team)

    @admin.action(description="Mark selected risks as reviewed today")
    def mark_reviewed(self, request, queryset):
        for risk in queryset:
            services.record_review(risk, request.user, notes="Reviewed in the admin.")
        self.message_user(request, f"{queryset.count()} risk(s) marked reviewed.")


class RiskAcceptanceApprovalInline(admin.TabularInline):
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
class RiskAcceptanceAdmin(AuditHistoryMixin, admin.ModelAdmin):
    """Read-only: acceptances are decided through the API (decision rights apply)."""

    list_display = ("risk", "status", "expires_at", "requested_by", "decided_by", "decided_at")
    list_filter = (ExpiringFilter, "status")
    list_select_related = ("risk", "requested_by", "decided_by")
    inlines = [RiskAcceptanceApprovalInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
        ]

    def clean(self):
        cleaned = super().clean()
        values_changed = {"warning_value", "critical_value"} & set(self.changed_data)
        reason = (cleaned.get("recalibration_reason") or "").strip()
        if self.instance.pk and values_changed and not reason:
            self.add_error("recalibration_reason", "Say why the values change.")
        return cleaned


class ThresholdRecalibrationInline(admin.TabularInline):
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
class ThresholdAdmin(AuditHistoryMixin, admin.ModelAdmin):
    form = ThresholdForm
    list_display = ("metric", "comparator", "warning_value", "critical_value", "risk")
    list_filter = ("comparator",)
    search_fields = ("metric", "hypothesis")
    list_select_related = ("risk",)
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
class EvaluationAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "model_version", "outcome", "reviewer", "created_at")
    list_filter = ("kind", "outcome")
    search_fields = ("name", "suite", "hypothesis", "run_reference")
    list_select_related = ("model_version__model", "reviewer")
    readonly_fields = ("passed",)


@admin.register(RequiredEvaluation)
class RequiredEvaluationAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ("risk_tier", "kind")
    list_filter = ("risk_tier",)


@admin.register(Reminder)
class ReminderAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ("risk", "kind", "due_date", "recipient_email", "sent_at")
    list_filter = ("kind",)
    list_select_related = ("risk",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Control)
class ControlAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ("title", "risk", "owner", "status")
    list_filter = ("status",)
    list_select_related = ("risk", "owner")
