"""The vocabulary's console page (/vocabulary/): the glossary and the classifications,
each term and tag with the records carrying it that the user may see.

Reads only (terms and labels change through the API, audited). The assignments are
scoped through the labelled records (``scope_targets``); at most ``SHOWN`` of them are
read, then each kind of record once."""

from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.registry import nav_entry
from vocabulary.models import Assignment, Classification, GlossaryTerm, Tag
from vocabulary.targets import registered_targets, scope_targets

SHOWN = 500

nav_entry("Vocabulary", "ui-vocabulary", order=70, section="/vocabulary/")


def _labelled_records(user) -> tuple[dict, bool]:
    """``{("tag"|"term", id): [{"kind", "title", "url", "field"}]}`` of the visible
    assignments, and whether more than ``SHOWN`` were left out."""
    rows = list(
        scope_targets(Assignment.objects.all(), user)
        .select_related("content_type")
        .order_by("-created_at", "-pk")[: SHOWN + 1]
    )
    more = len(rows) > SHOWN
    rows = rows[:SHOWN]
    specs = {ContentType.objects.get_for_model(s.model).pk: s for s in registered_targets()}
    records = {}
    for content_type_id, spec in specs.items():
        ids = [a.object_id for a in rows if a.content_type_id == content_type_id]
        if ids:
            queryset = spec.model._default_manager.filter(pk__in=ids)
            if spec.related:
                queryset = queryset.select_related(*spec.related)
            records.update({(content_type_id, r.pk): r for r in queryset})
    labelled: dict = {}
    for assignment in rows:
        record = records.get((assignment.content_type_id, assignment.object_id))
        spec = specs.get(assignment.content_type_id)
        if record is None or spec is None:
            continue
        key = ("tag", assignment.tag_id) if assignment.tag_id else ("term", assignment.term_id)
        labelled.setdefault(key, []).append(
            {
                "kind": spec.kind,
                "title": spec.describe(record),
                "url": spec.page(record) if spec.page else "",
                "field": assignment.field,
            }
        )
    return labelled, more


@require_GET
@login_required
def vocabulary_page(request):
    labelled, more = _labelled_records(request.user)
    terms = list(GlossaryTerm.objects.select_related("owner_team", "parent").order_by("name"))
    for term in terms:
        term.records = labelled.get(("term", term.pk), [])
    classifications = list(
        Classification.objects.prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("pk"))
        ).order_by("name")
    )
    for classification in classifications:
        for tag in classification.tags.all():
            tag.records = labelled.get(("tag", tag.pk), [])
    return render(
        request,
        "vocabulary/ui/vocabulary.html",
        {"terms": terms, "classifications": classifications, "more": more, "shown": SHOWN},
    )
