import django_filters
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

from config.api import FilterSet, IdFilter
from vocabulary.choices import TermStatus
from vocabulary.models import Assignment, Classification, GlossaryTerm, Tag
from vocabulary.targets import target, target_kinds


class GlossaryTermFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=TermStatus.choices)
    owner_team = django_filters.CharFilter(field_name="owner_team__name")
    parent = IdFilter(field_name="parent")
    q = django_filters.CharFilter(method="filter_text", label="Name or definition contains")

    class Meta:
        model = GlossaryTerm
        fields = ["status", "owner_team", "parent"]

    def filter_text(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(definition__icontains=value))


class ClassificationFilter(FilterSet):
    class Meta:
        model = Classification
        fields = ["mutually_exclusive"]


class TagFilter(FilterSet):
    classification = django_filters.CharFilter(
        field_name="classification__name", lookup_expr="iexact"
    )

    class Meta:
        model = Tag
        fields = ["classification"]


def _kind_choices():
    return [(kind, kind) for kind in target_kinds()]


class AssignmentFilter(FilterSet):
    target_type = django_filters.ChoiceFilter(choices=_kind_choices, method="filter_target_type")
    target_id = django_filters.NumberFilter(field_name="object_id", min_value=1)
    field = django_filters.CharFilter()
    tag = django_filters.CharFilter(method="filter_tag", label="Tag (Classification.Tag)")
    term = django_filters.CharFilter(field_name="term__name", lookup_expr="iexact")
    classification = django_filters.CharFilter(
        field_name="tag__classification__name", lookup_expr="iexact"
    )
    source = django_filters.CharFilter()

    class Meta:
        model = Assignment
        fields = ["field", "source"]

    def filter_target_type(self, queryset, name, value: str):
        spec = target(value)
        return queryset.filter(content_type=ContentType.objects.get_for_model(spec.model))

    def filter_tag(self, queryset, name, value):
        classification, _, tag = value.partition(".")
        return queryset.filter(
            tag__classification__name__iexact=classification, tag__name__iexact=tag
        )
