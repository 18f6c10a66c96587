from django.contrib.auth import get_user_model
from rest_framework import serializers

from accounts.models import ApiToken
from accounts.roles import ROLE_NAMES


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


class MeSerializer(serializers.ModelSerializer):
    teams = serializers.SerializerMethodField()
    roles = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "first_name", "last_name", "teams", "roles"]

    def get_teams(self, user):
        return sorted(g.name for g in user.groups.all() if g.name not in ROLE_NAMES)

    def get_roles(self, user):
        return sorted(g.name for g in user.groups.all() if g.name in ROLE_NAMES)
