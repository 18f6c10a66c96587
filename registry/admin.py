"""The board's admin: every catalog record with filters, search, and its audit history."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from accounts.admin_base import (
    GovernedAdmin,
    GovernedGuardedAdmin,
    GovernedTabularInline,
    Who,
    adopt,
    model_fields,
)
from accounts.permissions import scope_queryset
from accounts.roles import teams_of
from registry import services
from registry.choices import ModelVersionStatus
from registry.models import (
    Deployment,
    Environment,
    Feature,
    FeatureVersion,
    ImpactNotification,
    MLModel,
    ModelVersion,
    PublicCard,
)


def dossier_links(version) -> str:
    """Download links of a version's dossier (JSON, PDF, signed bundle), for whoever may
    read the version here: its team, the board, auditors and admins."""
    if version is None or version.pk is None:
        return "-"
    url = reverse("model-dossier", kwargs={"name": version.model.name})
    links = [
        (f"{url}?{urlencode({'version': version.version, 'format': fmt})}", label)
        for fmt, label in (("pdf", "PDF"), ("json", "JSON"), ("bundle", "signed bundle"))
    ]
    return format_html(
        "{} (Annex IV, {})",
        format_html_join(" · ", '<a href="{}">{}</a>', links),
        version,
    )


class ModelVersionInline(GovernedTabularInline):
    model = ModelVersion
    fields = ("version", "status", "artifact_digest", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MLModel)
class MLModelAdmin(GovernedGuardedAdmin):
    """A team's models. Approvers also see the models they may approve (as the gate
    shows them their deployment requests); a new model is registered by the service,
    which gives its team its rights."""

    list_display = ("name", "team", "risk_tier", "card_complete", "updated_at")
    list_filter = ("risk_tier", "team")
    search_fields = ("name", "description")
    inlines = [ModelVersionInline]

    delete_allowed = True
    readonly_fields = ("dossier",)

    @admin.display(boolean=True)
    def card_complete(self, obj):
        return obj.card_complete

    @admin.display(description="dossier of the newest version")
    def dossier(self, obj):
        newest = obj.versions.order_by("-created_at", "-pk").first() if obj.pk else None
        return dossier_links(newest) if newest else "-"

    def scope_queryset(self, request, queryset):
        seen = super().scope_queryset(request, queryset)
        approvable = scope_queryset(queryset, request.user, action="approve")
        return queryset.filter(Q(pk__in=seen.values("pk")) | Q(pk__in=approvable.values("pk")))

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            adopt(obj, services.register_model(**model_fields(form)))


@admin.register(ModelVersion)
class ModelVersionAdmin(GovernedAdmin):
    """Versions of the team's models. A new one is registered by the service; its
    status moves by the actions below (the service keeps the life cycle's rules)."""

    list_display = ("__str__", "status", "training_run", "registered_by", "created_at")
    list_filter = ("status", "model__risk_tier", "model__team")
    search_fields = ("model__name", "version", "artifact_digest", "code_commit")
    list_select_related = ("model", "training_run", "registered_by")
    raw_id_fields = ("training_run",)
    readonly_fields = ("registered_by", "training_data", "dossier", "created_at", "updated_at")
    scope_path = "model"
    scope_model = MLModel
    actions = ["mark_validated", "mark_deprecated", "mark_retired"]

    def get_readonly_fields(self, request, obj=None):
        fields = (*super().get_readonly_fields(request, obj), "status")
        return (*fields, "model") if obj is not None else fields

    @admin.display(description="dossier")
    def dossier(self, obj):
        return dossier_links(obj)

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
        if change:
            super().save_model(request, obj, form, change)
            return
        fields = model_fields(form)
        fields.pop("registered_by", None)
        adopt(obj, services.register_version(registered_by=request.user, **fields))

    def _move(self, request, queryset, status):
        moved = 0
        for version in queryset:
            if not self.has_change_permission(request, version):
                self.message_user(request, f"{version}: you may not change it.", messages.ERROR)
                continue
            try:
                services.change_version_status(version, status, reason="Set in the admin.")
            except ValidationError as exc:
                self.message_user(request, f"{version}: {' '.join(exc.messages)}", messages.ERROR)
                continue
            moved += 1
        self.message_user(request, f"{moved} version(s) now {status}.")

    @admin.action(description="Mark selected versions validated", permissions=["change"])
    def mark_validated(self, request, queryset):
        self._move(request, queryset, ModelVersionStatus.VALIDATED)

    @admin.action(description="Mark selected versions deprecated", permissions=["change"])
    def mark_deprecated(self, request, queryset):
        self._move(request, queryset, ModelVersionStatus.DEPRECATED)

    @admin.action(description="Mark selected versions retired", permissions=["change"])
    def mark_retired(self, request, queryset):
        self._move(request, queryset, ModelVersionStatus.RETIRED)


@admin.register(Feature)
class FeatureAdmin(GovernedGuardedAdmin):
    list_display = ("name", "team", "updated_at")
    list_filter = ("team",)
    search_fields = ("name", "description")
    delete_allowed = True

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            adopt(obj, services.register_feature(**model_fields(form)))


@admin.register(FeatureVersion)
class FeatureVersionAdmin(GovernedAdmin):
    """A definition, once recorded, is what models were built with: a change is a new
    version (added here through the service), never an edit."""

    list_display = ("__str__", "definition_kind", "created_by", "created_at")
    list_filter = ("definition_kind", "feature__team")
    search_fields = ("feature__name", "version", "definition")
    list_select_related = ("feature", "created_by")
    raw_id_fields = ("source_dataset_versions",)
    readonly_fields = ("created_by",)
    scope_path = "feature"
    scope_model = Feature

    def may_write(self, request, action, obj=None):
        return False  # immutable; has_add_permission decides about new versions

    def save_model(self, request, obj, form, change):
        fields = model_fields(form)
        fields.pop("created_by", None)
        saved = services.add_feature_version(
            created_by=request.user,
            source_dataset_versions=form.cleaned_data.get("source_dataset_versions", ()),
            **fields,
        )
        adopt(obj, saved)

    def save_related(self, request, form, formsets, change):
        pass  # the service set the source dataset versions


@admin.register(Environment)
class EnvironmentAdmin(GovernedAdmin):
    """Shared by everyone signed in; changed by holders of the model permission
    (admins), as in the API."""

    readers = Who.SIGNED_IN
    writers = Who.MODEL_PERM
    delete_allowed = True
    list_display = ("name", "order", "protected")
    list_filter = ("protected",)
    search_fields = ("name", "description")


class ReadOnlyAdmin(GovernedAdmin):
    """Records that only services write: the board reads them here."""

    writers = None


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    """Read-only for everyone: deployments come from the gate (protected environments)
    or the API (the others), never from an admin form."""

    scope_path = "model"
    scope_model = MLModel
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
    """What each team was told; a team sees its own, global readers all."""

    readers = Who.SIGNED_IN

    def scope_queryset(self, request, queryset):
        queryset = super().scope_queryset(request, queryset)
        if request.user.has_perm("registry.view_impactnotification"):
            return queryset
        return queryset.filter(team__in=teams_of(request.user))

    list_display = ("dataset_version", "status", "team", "sent_at")
    list_filter = ("status", "team")
    search_fields = ("dataset_version__dataset__name", "dataset_version__version")
    list_select_related = ("dataset_version__dataset__namespace", "team")


# The gate's pages (decision rights, deployment requests) live beside its code.
from registry.gate import admin as gate_admin  # noqa: E402,F401


@admin.register(PublicCard)
class PublicCardAdmin(ReadOnlyAdmin):
    """What each model's public card asks and shows; written by the publish-card services
    (the API's PUT, approve and withdraw), read here."""

    scope_path = "model"
    scope_model = MLModel
    list_display = ("model", "status", "requested_by", "requested_at", "published_at")
    list_filter = ("status",)
    search_fields = ("model__name",)
    list_select_related = ("model", "requested_by")
