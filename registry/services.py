"""Registry verbs."""

from django.db import transaction

from accounts.permissions import grant_team_access
from registry.models import MLModel


def register_model(**fields) -> MLModel:
    """Create a model and give its owning team view, change and delete rights on it."""
    with transaction.atomic():
        model = MLModel(**fields)
        model.full_clean()
        model.save()
        grant_team_access(model, model.team, actions=("view", "change", "delete", "approve"))
    return model
