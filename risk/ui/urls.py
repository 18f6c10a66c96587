"""The risk register's pages (mounted at /risks/ by config/urls.py)."""

from django.urls import path

from risk.ui import views

urlpatterns = [
    path("", views.register, name="ui-risk-list"),
    path("heatmap/", views.heatmap, name="ui-risk-heatmap"),
    path("<int:pk>/", views.risk_page, name="ui-risk-detail"),
    path("<int:pk>/review", views.review, name="ui-risk-review"),
    path(
        "acceptances/<int:pk>/approve", views.approve_acceptance, name="ui-risk-acceptance-approve"
    ),
    path("acceptances/<int:pk>/reject", views.reject_acceptance, name="ui-risk-acceptance-reject"),
]
