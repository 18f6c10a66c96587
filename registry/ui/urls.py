"""The board's web pages (mounted at the site root)."""

from django.urls import path

from registry.ui import model_views, views

urlpatterns = [
    path("models/", model_views.model_list, name="ui-model-list"),
    path("models/<slug:name>/", model_views.model_detail, name="ui-model-detail"),
    path("requests/", views.request_list, name="ui-request-list"),
    path("requests/<int:pk>/", views.request_detail, name="ui-request-detail"),
    path("requests/<int:pk>/approve", views.approve, name="ui-request-approve"),
    path("requests/<int:pk>/reject", views.reject, name="ui-request-reject"),
]
