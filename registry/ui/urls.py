"""The board's web pages (mounted at the site root)."""

from django.urls import path

from registry.ui import views

urlpatterns = [
    path("requests/", views.request_list, name="ui-request-list"),
    path("requests/<int:pk>/", views.request_detail, name="ui-request-detail"),
    path("requests/<int:pk>/approve", views.approve, name="ui-request-approve"),
    path("requests/<int:pk>/reject", views.reject, name="ui-request-reject"),
]
