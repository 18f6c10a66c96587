from datetime import timedelta

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from config.api import FilterSet
from risk import sufficiency
from risk.choices import (
    BLOCKING_SEVERITIES,
    AcceptanceStatus,
    FindingStatus,
    ReviewState,
    RiskStatus,
)
from risk.models import (
    Control,
    Evaluation,
    RedTeamExercise,
    RedTeamFinding,
    Risk,
    RiskAcceptance,
    Threshold,
)
from risk.sufficiency import Sufficiency


class RiskFilter(FilterSet):
    team = django_filters.CharFilter(field_name="team__name")
    owner = django_filters.CharFilter(field_name="owner__username")
    model = django_filters.CharFilter(
        method="filter_model",
        label="model name (linked directly, through a version or a deployment)",
    )
    model_version = django_filters.NumberFilter(field_name="model_versions")
    review = django_filters.ChoiceFilter(choices=ReviewState.choices, method="filter_review")
    above_appetite = django_filters.BooleanFilter(method="filter_above_appetite")
    sufficiency = django_filters.ChoiceFilter(
        choices=Sufficiency.choices,
        method="filter_sufficiency",
        label="monitoring sufficiency: none, partial or sufficient",
    )

    class Meta:
        model = Risk
        fields = [
            "team",
            "owner",
            "category",
            "status",
            "treatment",
            "inherent_level",
            "residual_level",
            "appetite",
            "matrix",
        ]

    def filter_model(self, queryset, name, value):
        return queryset.filter(
            Q(ml_models__name=value)
            | Q(model_versions__model__name=value)
            | Q(deployments__model__name=value)
        ).distinct()

    def filter_review(self, queryset, name, value):
        return queryset.review_state(value)

    def filter_sufficiency(self, queryset, name, value):
        return sufficiency.filter_level(queryset, value)

    def filter_above_appetite(self, queryset, name, value):
        above = queryset.above_appetite()
        return above if value else queryset.exclude(pk__in=above.values("pk"))


class ControlFilter(FilterSet):
    class Meta:
        model = Control
        fields = ["risk", "status"]


class RiskAcceptanceFilter(FilterSet):
    expiring = django_filters.BooleanFilter(
        method="filter_expiring",
        label="accepted and expiring within GOVREG_RISK_ACCEPTANCE_NOTICE_DAYS",
    )

    class Meta:
        model = RiskAcceptance
        fields = ["risk", "status"]

    def filter_expiring(self, queryset, name, value):
        now = timezone.now()
        horizon = now + timedelta(days=settings.GOVREG_RISK_ACCEPTANCE_NOTICE_DAYS)
        expiring = Q(status=AcceptanceStatus.ACCEPTED, expires_at__gt=now, expires_at__lte=horizon)
        return queryset.filter(expiring) if value else queryset.exclude(expiring)


class ThresholdFilter(FilterSet):
    model = django_filters.CharFilter(method="filter_model")

    class Meta:
        model = Threshold
        fields = ["risk", "model_version", "deployment", "metric", "comparator"]

    def filter_model(self, queryset, name, value):
        return queryset.filter(
            Q(model_version__model__name=value) | Q(deployment__model__name=value)
        )


class EvaluationFilter(FilterSet):
    model = django_filters.CharFilter(field_name="model_version__model__name")

    class Meta:
        model = Evaluation
        fields = ["model_version", "kind", "passed", "outcome"]


class IdFilter(django_filters.Filter):
    """A record id: a whole number, else a 400 naming the parameter."""

    field_class = forms.IntegerField


class RiskHeatmapFilter(FilterSet):
    """The heat map's filters: ``team`` (name), ``model`` (name; linked directly, via a
    version or a deployment), ``status`` (default: every status but closed; ``all``
    for everything) and ``matrix`` (id; the view draws that matrix, else the default)."""

    team = django_filters.CharFilter(field_name="team__name")
    model = django_filters.CharFilter(method="filter_model")
    status = django_filters.ChoiceFilter(
        choices=[*RiskStatus.choices, ("all", "all")],
        method="filter_status",
        error_messages={"invalid_choice": f"Use one of {', '.join(RiskStatus.values)} or all."},
    )
    matrix = IdFilter(method="keep", error_messages={"invalid": "Give the matrix id as a number."})

    class Meta:
        model = Risk
        fields = ["team", "model", "status", "matrix"]

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.live()
        return super().filter_queryset(queryset)

    def filter_status(self, queryset, name, value):
        return queryset if value == "all" else queryset.filter(status=value)

    def filter_model(self, queryset, name, value):
        linked = queryset.filter(
            Q(ml_models__name=value)
            | Q(model_versions__model__name=value)
            | Q(deployments__model__name=value)
        )
        return queryset.filter(pk__in=linked.values("pk"))

    def keep(self, queryset, name, value):
        return queryset


class RedTeamExerciseFilter(FilterSet):
    team = django_filters.CharFilter(field_name="team__name")
    model = django_filters.CharFilter(method="filter_model", label="model name (version in scope)")
    model_version = django_filters.NumberFilter(method="filter_model_version")

    class Meta:
        model = RedTeamExercise
        fields = ["team", "status", "model", "model_version"]

    def filter_model(self, queryset, name, value):
        scoped = queryset.filter(model_versions__model__name=value)
        return queryset.filter(pk__in=scoped.values("pk"))

    def filter_model_version(self, queryset, name, value):
        return queryset.filter(pk__in=queryset.filter(model_versions=value).values("pk"))


class RedTeamFindingFilter(FilterSet):
    model = django_filters.CharFilter(method="filter_model", label="model name (version in scope)")
    model_version = django_filters.NumberFilter(method="filter_model_version")
    blocking = django_filters.BooleanFilter(
        method="filter_blocking", label="high or critical, and open"
    )

    class Meta:
        model = RedTeamFinding
        fields = ["exercise", "severity", "status", "risk", "model", "model_version", "blocking"]

    def filter_model(self, queryset, name, value):
        scoped = queryset.filter(exercise__model_versions__model__name=value)
        return queryset.filter(pk__in=scoped.values("pk"))

    def filter_model_version(self, queryset, name, value):
        scoped = queryset.filter(exercise__model_versions=value)
        return queryset.filter(pk__in=scoped.values("pk"))

    def filter_blocking(self, queryset, name, value):
        blocking = Q(severity__in=BLOCKING_SEVERITIES, status=FindingStatus.OPEN)
        return queryset.filter(blocking) if value else queryset.exclude(blocking)
