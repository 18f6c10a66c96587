"""The audit trail page (mounted at /audit/ by config/urls.py)."""

from django.urls import path

from audit.ui import views

urlpatterns = [
    path("", views.trail, name="ui-audit-trail"),
]
