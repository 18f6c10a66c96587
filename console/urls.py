"""The console's own routes; each app mounts its pages beside these."""

from django.urls import path

from console import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.SignInView.as_view(), name="console-login"),
    path("logout/", views.SignOutView.as_view(), name="console-logout"),
]
