"""Related fields that only offer what the caller may see, so another team's record
reads as "does not exist" rather than leaking."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q
from rest_framework import serializers

from accounts.permissions import visible
from accounts.roles import GLOBAL_READ_ROLES, has_role, teams_of
from registry.models import MLModel


class VisibleThroughModelField(serializers.PrimaryKeyRelatedField):
    """Rows (model versions, deployments) under an ML model the caller may see."""

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            return queryset.none()
        allowed = visible(MLModel.objects.all(), request.user)
        return queryset.filter(model__in=allowed.values("pk"))


class TeammateField(serializers.SlugRelatedField):
    """A user by username, among the people who share a team with the caller and the
    holders of the global roles (board, auditor, admin); global roles may name anyone.
    Anyone else reads as no such user, so the field enumerates no other team."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "username")
        kwargs.setdefault("queryset", get_user_model().objects.all())
        super().__init__(**kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            return queryset.none()
        user = request.user
        if user.is_superuser or has_role(user, *GLOBAL_READ_ROLES):
            return queryset
        return queryset.filter(
            Q(groups__in=teams_of(user)) | Q(groups__name__in=GLOBAL_READ_ROLES)
        ).distinct()


class MinutesField(serializers.IntegerField):
    """A duration (``DurationField``) read and written as whole minutes, at least
    ``minimum`` (the model's ``clean`` has the last word)."""

    def __init__(self, *, minimum: int = 0, **kwargs):
        self.minimum = minimum
        super().__init__(min_value=minimum, **kwargs)
        self.validators = []  # min_value compares minutes, in to_internal_value

    def to_representation(self, value):
        return None if value is None else int(value.total_seconds() // 60)

    def to_internal_value(self, data):
        minutes = super().to_internal_value(data)
        if minutes < self.minimum:
            self.fail("min_value", min_value=self.minimum)
        return timedelta(minutes=minutes)
