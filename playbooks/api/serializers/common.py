"""Shared serializer pieces: validation through the model's clean()."""

from django.contrib.auth import get_user_model


def _username(user):
    return user.get_username() if user is not None else None


class FullCleanMixin:
    """Validate through the model's clean(), so API, admin and services agree."""

    clean_exclude: tuple[str, ...] = ()

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        concrete = {f.name for f in model._meta.concrete_fields}
        values = {}
        if self.instance is not None:
            values = {name: getattr(self.instance, name) for name in concrete}
        values.update({k: v for k, v in attrs.items() if k in concrete})
        instance = model(**values)
        if self.instance is not None:
            instance.pk = self.instance.pk
            instance._state.adding = False  # constraints exclude the row itself
        instance.full_clean(exclude=list(self.clean_exclude), validate_unique=False)
        return attrs


def _users():
    return get_user_model().objects.filter(is_active=True)
