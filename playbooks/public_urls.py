"""Public routes of the playbooks (no sign-in): the feedback form and status page."""

from django.urls import path

from playbooks import public_views

urlpatterns = [
    path("cards/<slug:name>/feedback", public_views.submit_feedback, name="public-feedback"),
    path("feedback/<str:token>", public_views.feedback_status, name="feedback-status"),
]
