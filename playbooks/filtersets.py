import django_filters

from playbooks.models import Incident, Playbook, Signal


class SignalFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    unlinked = django_filters.BooleanFilter(field_name="model", lookup_expr="isnull")

    class Meta:
        model = Signal
        fields = ["model", "triage", "source", "fingerprint", "metric", "incident", "unlinked"]


class PlaybookFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__name")

    class Meta:
        model = Playbook
        fields = ["team", "active", "risk_category"]


class IncidentFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    serious = django_filters.BooleanFilter(method="filter_serious")

    class Meta:
        model = Incident
        fields = ["model", "status", "severity", "serious_category"]

    def filter_serious(self, queryset, name, value):
        return (
            queryset.exclude(serious_category="") if value else queryset.filter(serious_category="")
        )
