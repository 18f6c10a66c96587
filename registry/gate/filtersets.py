"""The gate list's filters (``?status=&kind=&model=&environment=``): a bad value is a
400 naming the parameter and the values it takes."""

import django_filters

from config.api import FilterSet
from registry.choices import RequestKind, RequestStatus
from registry.models import DeploymentRequest


def _one_of(choices) -> dict:
    return {"invalid_choice": f"Use one of {', '.join(choices.values)}."}


class DeploymentRequestFilter(FilterSet):
    status = django_filters.ChoiceFilter(
        choices=RequestStatus.choices, error_messages=_one_of(RequestStatus)
    )
    kind = django_filters.ChoiceFilter(
        choices=RequestKind.choices, error_messages=_one_of(RequestKind)
    )
    model = django_filters.CharFilter(field_name="model_version__model__name")
    environment = django_filters.CharFilter(field_name="environment__name")

    class Meta:
        model = DeploymentRequest
        fields = ["status", "kind", "model", "environment"]
