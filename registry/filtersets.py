import django_filters

from config.api import FilterSet
from registry.choices import DeploymentState, ModelVersionStatus, RiskTier
from registry.models import Deployment, Feature, FeatureVersion, MLModel, ModelVersion


class MLModelFilter(FilterSet):
    team = django_filters.CharFilter(field_name="team__name")
    tier = django_filters.ChoiceFilter(field_name="risk_tier", choices=RiskTier.choices)

    class Meta:
        model = MLModel
        fields = ["name", "team", "risk_tier", "tier"]


class ModelVersionFilter(FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    team = django_filters.CharFilter(field_name="model__team__name")
    tier = django_filters.ChoiceFilter(field_name="model__risk_tier", choices=RiskTier.choices)
    status = django_filters.MultipleChoiceFilter(choices=ModelVersionStatus.choices)
    training_run = django_filters.UUIDFilter(field_name="training_run__run_id")

    class Meta:
        model = ModelVersion
        fields = ["model", "version", "team", "tier", "status", "training_run"]


class DeploymentFilter(FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    team = django_filters.CharFilter(field_name="model__team__name")
    environment = django_filters.CharFilter(field_name="environment__name")
    version = django_filters.CharFilter(field_name="model_version__version")
    state = django_filters.MultipleChoiceFilter(choices=DeploymentState.choices)
    live = django_filters.BooleanFilter(method="filter_live", label="Only what serves now")

    class Meta:
        model = Deployment
        fields = ["model", "team", "environment", "model_version", "version", "state", "live"]

    def filter_live(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.filter(state=DeploymentState.LIVE)
        return queryset.exclude(state=DeploymentState.LIVE)


class FeatureFilter(FilterSet):
    team = django_filters.CharFilter(field_name="team__name")

    class Meta:
        model = Feature
        fields = ["name", "team"]


class FeatureVersionFilter(FilterSet):
    feature = django_filters.CharFilter(field_name="feature__name")
    team = django_filters.CharFilter(field_name="feature__team__name")

    class Meta:
        model = FeatureVersion
        fields = ["feature", "team", "version", "definition_kind"]
