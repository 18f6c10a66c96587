"""The board's admin: every catalog record with filters, search, and its audit history."""

from django.contrib import admin
from django.utils.html import format_html_join
from guardian.admin import GuardedModelAdmin

from audit.admin import AuditHistoryMixin
from registry import services
from registry.models import (
    Deployment,
    Environment,
    Feature,
    FeatureVersion,
    ImpactNotification,
    MLModel,
    ModelVersion,
)


class ModelVersionInline(admin.TabularInline):
    model = ModelVersion
    fields = ("version", "status", "artifact_digest", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MLModel)
class MLModelAdmin(AuditHistoryMixin, GuardedModelAdmin):
    list_display = ("name", "team", "risk_tier", "card_complete", "updated_at")
    list_filter = ("risk_tier", "team")
    search_fields = ("name", "description")
    inlines = [ModelVersionInline]

    @admin.display(boolean=True)
    def card_complete(self, obj):
        return obj.card_complete


@admin.register(ModelVersion)
class ModelVersionAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ("__str__", "status", "training_run", "registered_by", "created_at")
    list_filter = ("status", "model__risk_tier", "model__team")
    search_fields = ("model__name", "version", "artifact_digest", "code_commit")
    list_select_related = ("model", "training_run", "registered_by")
    raw_id_fields = ("training_run",)
    readonly_fields = ("registered_by", "training_data", "created_at", "updated_at")

    @admin.display(description="training data (from lineage)")
    def training_data(self, obj):
        if obj.pk is None:
            return "-"
        verdict = services.training_data_verdict(obj)
        rows = format_html_join(
            "",
            "<li>{}:{}@{} — {} ({})</li>",
            (
                (
                    dv.dataset.namespace.name,
                    dv.dataset.name,
                    dv.version,
                    dv.content_hash or "no hash",
                    dv.status,
                )
                for dv in verdict.dataset_versions
            ),
        )
        problems = format_html_join(
            "", "<li><strong>{}</strong></li>", ((p,) for p in verdict.problems)
        )
        return format_html_join("", "{}", ((rows,), (problems,))) if problems else rows

    def save_model(self, request, obj, form, change):
        if not change:
            obj.registered_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Feature)
class FeatureAdmin(AuditHistoryMixin, GuardedModelAdmin):
    list_display = ("name", "team", "updated_at")
    list_filter = ("team",)
    search_fields = ("name", "description")


@admin.register(FeatureVersion)
class FeatureVersionAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ("__str__", "definition_kind", "created_by", "created_at")
    list_filter = ("definition_kind", "feature__team")
    search_fields = ("feature__name", "version", "definition")
    list_select_related = ("feature", "created_by")
    raw_id_fields = ("source_dataset_versions",)


@admin.register(Environment)
class EnvironmentAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ("name", "order", "protected")
    list_filter = ("protected",)
    search_fields = ("name", "description")


class ReadOnlyAdmin(AuditHistoryMixin, admin.ModelAdmin):
    """Records that only services write: the board reads them here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = (
        "model",
        "version",
        "environment",
        "state",
        "is_rollback",
        "deployed_by",
        "deployed_at",
    )
    list_filter = ("state", "environment", "model__team", "model__risk_tier")
    search_fields = ("model__name", "model_version__version", "note")
    list_select_related = ("model", "model_version", "environment", "deployed_by")
    date_hierarchy = "deployed_at"

    @admin.display(ordering="model_version__version")
    def version(self, obj):
        return obj.model_version.version

    @admin.display(boolean=True)
    def is_rollback(self, obj):
        return obj.is_rollback


@admin.register(ImpactNotification)
class ImpactNotificationAdmin(ReadOnlyAdmin):
    list_display = ("dataset_version", "status", "team", "sent_at")
    list_filter = ("status", "team")
    search_fields = ("dataset_version__dataset__name", "dataset_version__version")
    list_select_related = ("dataset_version__dataset__namespace", "team")


# The gate's pages (decision rights, deployment requests) live beside its code.
from registry.gate import admin as gate_admin  # noqa: E402,F401
