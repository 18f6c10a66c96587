from rest_framework import serializers

from accounts.api.fields import TeamField
from registry.models import MLModel


class MLModelSerializer(serializers.ModelSerializer):
    team = TeamField()
    card_complete = serializers.BooleanField(read_only=True)
    card_missing = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = MLModel
        fields = [
            "id",
            "name",
            "team",
            "risk_tier",
            "description",
            *MLModel.CARD_FIELDS,
            "card_complete",
            "card_missing",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate(self, attrs):
        instance = MLModel(**{**self._current(), **attrs})
        instance.full_clean(
            exclude=["team"] if "team" not in attrs else None, validate_unique=False
        )
        return attrs

    def _current(self) -> dict:
        if self.instance is None:
            return {}
        return {f.name: getattr(self.instance, f.name) for f in MLModel._meta.concrete_fields}
