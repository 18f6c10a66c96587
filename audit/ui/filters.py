"""The audit trail page's filters (django-filter, as the API's)."""

from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.utils import timezone

from audit.models import AuditEvent


def _day_start(day):
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


class AuditTrailFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_username", label="Actor (username)")
    action = django_filters.CharFilter(
        field_name="action", lookup_expr="startswith", label="Action (or its start, e.g. gate.)"
    )
    object_type = django_filters.CharFilter(label="Object type (e.g. registry.mlmodel)")
    object_id = django_filters.CharFilter(label="Object id")
    date_from = django_filters.DateFilter(
        method="filter_from", label="From (date)", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        method="filter_to",
        label="To (date, inclusive)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditEvent
        fields = []

    def filter_from(self, queryset, name, value):
        return queryset.filter(created_at__gte=_day_start(value))

    def filter_to(self, queryset, name, value):
        return queryset.filter(created_at__lt=_day_start(value + timedelta(days=1)))
