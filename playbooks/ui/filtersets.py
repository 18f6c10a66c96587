"""Filters of the incident board (django-filter, as the API's filters are)."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from accounts.roles import teams
from playbooks.choices import ACTIVE_STATUSES, IncidentStatus, Severity
from playbooks.models import Drill, Incident
from playbooks.models.incident import report_overdue_q

ACTIVE = "active"
STATUS_CHOICES = [
    (ACTIVE, "Active (open, acknowledged, contained)"),
    *IncidentStatus.choices,
    ("all", "All"),
]


class IncidentBoardFilter(django_filters.FilterSet):
    """The board's filters. Without a status the board shows the active incidents."""

    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", empty_label=None
    )
    severity = django_filters.ChoiceFilter(choices=Severity.choices, empty_label="Any")
    team = django_filters.ModelChoiceFilter(
        field_name="model__team",
        queryset=teams().order_by("name"),
        to_field_name="name",
        empty_label="Any",
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue",
        label="Report overdue",
        widget=forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")]),
    )
    q = django_filters.CharFilter(method="filter_text", label="Search")

    class Meta:
        model = Incident
        fields = ["status", "severity", "team", "overdue", "q"]

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        if not data.get("status"):
            data["status"] = ACTIVE
        super().__init__(data, *args, **kwargs)

    def filter_status(self, queryset, name, value):
        if value == ACTIVE:
            return queryset.filter(status__in=ACTIVE_STATUSES)
        if value == "all":
            return queryset
        return queryset.filter(status=value)

    def filter_overdue(self, queryset, name, value):
        overdue = report_overdue_q(timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_text(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value) | Q(model__name__icontains=value) | Q(pk=_int(value))
        )


def _int(value: str) -> int:
    text = value.lstrip("#")
    return int(text) if text.isdigit() else 0


class DrillBoardFilter(django_filters.FilterSet):
    class Meta:
        model = Drill
        fields = ["status"]
