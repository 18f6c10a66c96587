"""The lineage picture's routes (mounted at /lineage/ by config/urls.py)."""

from django.urls import path

from lineage.ui import views

urlpatterns = [
    path("", views.picture, name="ui-lineage"),
    path("graph.json", views.graph_json, name="ui-lineage-graph-json"),
    path("versions/<int:pk>/", views.version_detail, name="ui-lineage-version"),
    path("versions/<int:pk>/status", views.change_status, name="ui-lineage-version-status"),
]
