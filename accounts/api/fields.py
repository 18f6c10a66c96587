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
    """A team by name; roles are not teams."""

    def __init__(self, **kwargs):
        from accounts.roles import teams

        kwargs.setdefault("slug_field", "name")
        kwargs.setdefault("queryset", teams())
        super().__init__(**kwargs)
