"""The card and ML-BOM routes, included from ``registry.api.urls`` before the router."""

from django.urls import re_path

from registry.api.card_formats import MLBomView, ModelCardView

urlpatterns = [
    re_path(r"^models/(?P<name>[^/]+)/card/?$", ModelCardView.as_view(), name="model-card"),
    re_path(
        r"^models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/ml-bom/?$",
        MLBomView.as_view(),
        name="model-version-ml-bom",
    ),
]
