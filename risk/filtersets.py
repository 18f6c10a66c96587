from datetime import timedelta

import django_filters
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from risk.choices import AcceptanceStatus, ReviewState
from risk.models import Control, Evaluation, Risk, RiskAcceptance, Threshold


class RiskFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__name")
    owner = django_filters.CharFilter(field_name="owner__username")
    model = django_filters.CharFilter(
        method="filter_model",
        label="model name (linked directly, through a version or a deployment)",
    )
    model_version = django_filters.NumberFilter(field_name="model_versions")
    review = django_filters.ChoiceFilter(choices=ReviewState.choices, method="filter_review")
    above_appetite = django_filters.BooleanFilter(method="filter_above_appetite")

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

    def filter_above_appetite(self, queryset, name, value):
        above = queryset.above_appetite()
        return above if value else queryset.exclude(pk__in=above.values("pk"))


class ControlFilter(django_filters.FilterSet):
    class Meta:
        model = Control
        fields = ["risk", "status"]


class RiskAcceptanceFilter(django_filters.FilterSet):
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


class ThresholdFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(method="filter_model")

    class Meta:
        model = Threshold
        fields = ["risk", "model_version", "deployment", "metric", "comparator"]

    def filter_model(self, queryset, name, value):
        return queryset.filter(
            Q(model_version__model__name=value) | Q(deployment__model__name=value)
        )


class EvaluationFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model_version__model__name")

    class Meta:
        model = Evaluation
        fields = ["model_version", "kind", "passed", "outcome"]
