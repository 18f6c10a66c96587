"""Incidents and signals in the shared vocabulary: scoped through their model, labelled
by whoever may change that model (its team, admins)."""

from django.urls import reverse

from vocabulary.targets import register_target

BY_MODEL = {"scope_path": "model", "scope_model": "registry.MLModel"}

register_target(
    "incident",
    "playbooks.Incident",
    page=lambda i: reverse("ui-incident-detail", args=[i.pk]),
    **BY_MODEL,
)
register_target("signal", "playbooks.Signal", **BY_MODEL)
