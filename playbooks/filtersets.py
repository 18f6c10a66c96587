import django_filters
from django.utils import timezone

from config.api import FilterSet
from playbooks.models import Incident, Playbook, Signal
from playbooks.models.incident import report_overdue_q


class SignalFilter(FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    unlinked = django_filters.BooleanFilter(field_name="model", lookup_expr="isnull")

    class Meta:
        model = Signal
        fields = ["model", "triage", "source", "fingerprint", "metric", "incident", "unlinked"]


class PlaybookFilter(FilterSet):
    team = django_filters.CharFilter(field_name="team__name")

    class Meta:
        model = Playbook
        fields = ["team", "active", "risk_category"]


class IncidentFilter(FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    serious = django_filters.BooleanFilter(method="filter_serious")
    report_overdue = django_filters.BooleanFilter(
        method="filter_report_overdue",
        label="Serious incidents whose report deadline passed with nothing recorded.",
    )

    class Meta:
        model = Incident
        fields = ["model", "status", "severity", "serious_category", "report_overdue"]

    def filter_serious(self, queryset, name, value):
        return (
            queryset.exclude(serious_category="") if value else queryset.filter(serious_category="")
        )

    def filter_report_overdue(self, queryset, name, value):
        overdue = report_overdue_q(timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
