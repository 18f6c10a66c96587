"""Shared serializer pieces. Validation through the model's ``clean()`` is
``config.serializers.FullCleanSerializer``, the API's one base."""

from django.contrib.auth import get_user_model


def _username(user):
    return user.get_username() if user is not None else None


def _users():
    return get_user_model().objects.filter(is_active=True)
