from django.db import models
from rest_framework import serializers

from accounts.permissions import visible


class _Scoped:
    """A related field whose choices are only the rows the requesting user may see,
    so naming another team's record reads as "does not exist", never as a leak."""

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        return visible(queryset, request.user) if request is not None else queryset.none()


class VisibleSlugRelatedField(_Scoped, serializers.SlugRelatedField):
    pass


class VisiblePrimaryKeyRelatedField(_Scoped, serializers.PrimaryKeyRelatedField):
    pass


class TeamField(serializers.SlugRelatedField):
    """A team by name; roles are not teams. A record's team is fixed once it is
    registered: a change on update is refused (its permissions are the team's)."""

    def __init__(self, **kwargs):
        from accounts.roles import teams

        kwargs.setdefault("slug_field", "name")
        kwargs.setdefault("queryset", teams())
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        team = super().to_internal_value(data)
        instance = getattr(self.parent, "instance", None)
        if isinstance(instance, models.Model) and team != getattr(instance, self.source):
            raise serializers.ValidationError(
                f"The team of a {instance._meta.verbose_name} is fixed once it is registered."
            )
        return team
