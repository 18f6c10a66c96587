"""Routes of the gate's pipeline API (included by ``registry.api.urls``)."""

from django.urls import path, re_path

from registry.gate import api

urlpatterns = [
    path(
        "deployment-requests/",
        api.DeploymentRequestListCreate.as_view(),
        name="deploymentrequest-list",
    ),
    path("deployment-requests/<int:pk>/", api.detail_view, name="deploymentrequest-detail"),
    re_path(
        r"^deployment-requests/(?P<pk>[0-9]+)/approve/?$",
        api.ApproveView.as_view(),
        name="deploymentrequest-approve",
    ),
    re_path(
        r"^deployment-requests/(?P<pk>[0-9]+)/reject/?$",
        api.RejectView.as_view(),
        name="deploymentrequest-reject",
    ),
    re_path(
        r"^deployment-requests/(?P<pk>[0-9]+)/deployed/?$",
        api.DeployedView.as_view(),
        name="deploymentrequest-deployed",
    ),
    re_path(
        r"^deployment-requests/(?P<pk>[0-9]+)/failed/?$",
        api.FailedView.as_view(),
        name="deploymentrequest-failed",
    ),
]
