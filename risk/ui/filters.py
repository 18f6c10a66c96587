"""The register page's filters: the API's ``RiskFilter`` plus a text search, the
residual level and the heat-map cell a board member clicked."""

import django_filters
from django import forms
from django.db.models import Q

from risk.choices import RiskLevel, RiskStatus
from risk.filtersets import RiskFilter
from risk.sufficiency import Sufficiency

AXES = ("inherent", "residual")


class RiskRegisterFilter(RiskFilter):
    q = django_filters.CharFilter(method="search", label="Search")
    level = django_filters.ChoiceFilter(
        field_name="residual_level",
        choices=RiskLevel.choices,
        empty_label="Any",
        label="Residual level",
    )
    status = django_filters.ChoiceFilter(
        choices=[*RiskStatus.choices, ("all", "All, closed too")],
        method="filter_status",
        empty_label="Live (not closed)",
        label="Status",
    )
    above_appetite = django_filters.ChoiceFilter(
        method="filter_above",
        choices=[("true", "Above appetite"), ("false", "Within appetite")],
        empty_label="Any",
        label="Appetite",
    )
    sufficiency = django_filters.ChoiceFilter(
        choices=Sufficiency.choices,
        method="filter_sufficiency",
        empty_label="Any",
        label="Monitoring",
    )
    inherent_likelihood = django_filters.NumberFilter(widget=forms.HiddenInput)
    inherent_impact = django_filters.NumberFilter(widget=forms.HiddenInput)
    residual_likelihood = django_filters.NumberFilter(widget=forms.HiddenInput)
    residual_impact = django_filters.NumberFilter(widget=forms.HiddenInput)

    class Meta(RiskFilter.Meta):
        fields = ["team", "model", "status", "level", "above_appetite", "sufficiency", "q"]

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.live()
        return super().filter_queryset(queryset)

    def filter_status(self, queryset, name, value):
        return queryset if value == "all" else queryset.filter(status=value)

    def filter_above(self, queryset, name, value):
        return self.filter_above_appetite(queryset, name, value == "true")

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(title__icontains=value)
            | Q(description__icontains=value)
            | Q(hypothesis__icontains=value)
        )

    def cell(self) -> tuple[str, int, int] | None:
        """The heat-map cell the register is narrowed to: (axis, likelihood, impact)."""
        data = self.form.cleaned_data if self.form.is_valid() else {}
        for axis in AXES:
            likelihood, impact = data.get(f"{axis}_likelihood"), data.get(f"{axis}_impact")
            if likelihood is not None and impact is not None:
                return axis, int(likelihood), int(impact)
        return None
