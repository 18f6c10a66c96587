"""The vocabulary in the admin: everyone signed in reads terms, classifications and tags
(they are shared); admins curate them. Assignments are shown on the records the user
may see and written only through the API (audited on the labelled record)."""

from django.contrib import admin

from accounts.admin_base import GovernedAdmin, GovernedTabularInline, Who, adopt, model_fields
from vocabulary import services
from vocabulary.models import Assignment, Classification, GlossaryTerm, Tag
from vocabulary.targets import scope_targets


@admin.register(GlossaryTerm)
class GlossaryTermAdmin(GovernedAdmin):
    readers = Who.SIGNED_IN
    writers = Who.ADMINS
    list_display = ("name", "status", "owner_team", "approved_by", "updated_at")
    list_filter = ("status", "owner_team")
    list_select_related = ("owner_team", "approved_by")
    search_fields = ("name", "definition", "synonyms")
    filter_horizontal = ("related_terms",)
    readonly_fields = (
        "status",
        "proposed_by",
        "approved_by",
        "approved_at",
        "deprecated_at",
        "created_at",
        "updated_at",
    )

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            adopt(obj, services.propose_term(request.user, **model_fields(form)))


class TagInline(GovernedTabularInline):
    model = Tag
    extra = 0
    fields = ("name", "description")


@admin.register(Classification)
class ClassificationAdmin(GovernedAdmin):
    readers = Who.SIGNED_IN
    writers = Who.ADMINS
    list_display = ("name", "mutually_exclusive", "description")
    search_fields = ("name", "description")
    inlines = [TagInline]


@admin.register(Tag)
class TagAdmin(GovernedAdmin):
    readers = Who.SIGNED_IN
    writers = Who.ADMINS
    list_display = ("__str__", "classification", "description")
    list_filter = ("classification",)
    list_select_related = ("classification",)
    search_fields = ("name", "classification__name")


@admin.register(Assignment)
class AssignmentAdmin(GovernedAdmin):
    """Read-only: labels are given and taken through the API (each audited)."""

    readers = Who.SIGNED_IN
    writers = None
    list_display = ("__str__", "field", "source", "assigned_by", "created_at")
    list_filter = ("content_type", "tag__classification", "source")
    list_select_related = ("content_type", "tag__classification", "term", "assigned_by")

    def scope_queryset(self, request, queryset):
        return scope_targets(queryset, request.user)
