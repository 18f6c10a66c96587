"""The incident board's routes (mounted at the site root by config/urls.py)."""

from django.urls import path

from playbooks.ui import feedback, views

urlpatterns = [
    path("incidents/", views.incident_list, name="ui-incident-list"),
    path("incidents/<int:pk>/", views.incident_detail, name="ui-incident-detail"),
    path("incidents/<int:pk>/acknowledge", views.acknowledge, name="ui-incident-acknowledge"),
    path("incidents/<int:pk>/escalate", views.escalate, name="ui-incident-escalate"),
    path("incidents/<int:pk>/contain", views.contain, name="ui-incident-contain"),
    path("incidents/<int:pk>/resolve", views.resolve, name="ui-incident-resolve"),
    path("incidents/<int:pk>/close", views.close, name="ui-incident-close"),
    path("incidents/<int:pk>/comment", views.comment, name="ui-incident-comment"),
    path(
        "incidents/<int:pk>/steps/<int:step>/complete",
        views.complete_step,
        name="ui-incident-complete-step",
    ),
    path(
        "action-items/<int:pk>/complete",
        views.complete_action_item,
        name="ui-action-item-complete",
    ),
    path("drills/", views.drill_list, name="ui-drill-list"),
    path("drills/<int:pk>/", views.drill_detail, name="ui-drill-detail"),
    path("feedback-reports/", feedback.report_list, name="ui-feedback-list"),
    path("feedback-reports/<int:pk>/", feedback.report_detail, name="ui-feedback-detail"),
    path("feedback-reports/<int:pk>/reply", feedback.reply, name="ui-feedback-reply"),
    path("feedback-reports/<int:pk>/status", feedback.set_status, name="ui-feedback-status"),
]
