"""The red-team pages (mounted at /redteam/ by config/urls.py)."""

from django.urls import path

from risk.ui import redteam

urlpatterns = [
    path("", redteam.exercise_list, name="ui-redteam-list"),
    path("<int:pk>/", redteam.exercise_page, name="ui-redteam-detail"),
]
