"""The dossier's routes, included from ``registry.api.urls``."""

from django.urls import re_path

from registry.api.dossier import DossierSchemaView, DossierView

urlpatterns = [
    re_path(r"^models/(?P<name>[^/]+)/dossier/?$", DossierView.as_view(), name="model-dossier"),
    re_path(r"^schemas/dossier\.json$", DossierSchemaView.as_view(), name="dossier-schema"),
]
