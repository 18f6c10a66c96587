import django_filters

from registry.models import MLModel


class MLModelFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__name")

    class Meta:
        model = MLModel
        fields = ["team", "risk_tier"]
