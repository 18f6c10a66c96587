from django.db import transaction
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import ApiTokenSerializer, MeSerializer
from accounts.models import ApiToken
from accounts.services import issue_token, revoke_token
from config.throttling import TokenCreationThrottle


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class MeView(APIView):
    """Who the caller is: user, teams and roles. Two reads (the token with its user,
    the group names) and nothing to roll back: no request transaction around them
    (its BEGIN and COMMIT were a third of the call's database round trips)."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's own API tokens. The plaintext is in the create answer only."""

    serializer_class = ApiTokenSerializer
    lookup_field = "token_key"
    throttle_classes = [TokenCreationThrottle]  # GOVREG_RATE_TOKENS

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI document's dry run
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user).order_by("-created")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token, plaintext = issue_token(
            request.user,
            name=data.get("name", ""),
            expires_days=data.get("expires_days"),
            read_only=data.get("read_only", False),
        )
        body = ApiTokenSerializer(token).data
        body["token"] = plaintext
        response = Response(body, status=status.HTTP_201_CREATED)
        # The plaintext is in this answer only: no browser or proxy may keep a copy.
        add_never_cache_headers(response)
        return response

    def perform_destroy(self, instance):
        revoke_token(instance)
