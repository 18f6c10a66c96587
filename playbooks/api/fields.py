"""Related fields whose choices are what the requesting user may see through a parent
(a threshold through its risk, an evaluation through its model), so naming another
team's record reads as "does not exist"."""

from rest_framework import serializers

from accounts.permissions import visible


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    def __init__(self, *, scope_path: str, scope_model, **kwargs):
        self.scope_path = scope_path
        self.scope_model = scope_model
        super().__init__(**kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            return queryset.none()
        allowed = visible(self.scope_model._default_manager.all(), request.user)
        return queryset.filter(**{f"{self.scope_path}__in": allowed.values("pk")})
