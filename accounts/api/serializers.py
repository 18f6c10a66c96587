from rest_framework import serializers

from accounts.models import ApiToken
from accounts.roles import ROLE_NAMES, group_names


class ApiTokenSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="token_key", read_only=True)
    expires_days = serializers.IntegerField(
        write_only=True,
        required=False,
        min_value=1,
        help_text="Days until expiry: GOVREG_TOKEN_TTL_DAYS when left out, at most "
        "GOVREG_TOKEN_MAX_DAYS. Every token expires.",
    )

    class Meta:
        model = ApiToken
        fields = ["id", "name", "read_only", "created", "expiry", "expires_days"]
        read_only_fields = ["id", "created", "expiry"]


class MeSerializer(serializers.Serializer):
    """Who the caller is. The fields are the schema; the answer is built from one read
    of the user's group names (teams and roles are both groups), without building a
    model serializer's fields on every call: ``GET /api/me/`` is the API's floor."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    teams = serializers.ListField(child=serializers.CharField(), help_text="team names, sorted")
    roles = serializers.ListField(child=serializers.CharField(), help_text="role names, sorted")

    def to_representation(self, user):
        names = group_names(user)
        return {
            "id": user.pk,
            "username": user.get_username(),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "teams": [name for name in names if name not in ROLE_NAMES],
            "roles": [name for name in names if name in ROLE_NAMES],
        }
