"""Public routes (no sign-in), mounted at ``cards/``."""

from django.urls import path

from registry.ui import public

urlpatterns = [
    path("<slug:name>.json", public.card_json, name="public-card-json"),
    path("<slug:name>", public.card_page, name="public-card"),
]
