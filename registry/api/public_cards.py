"""The public card of a model over the API (its team and approvers):

- ``GET /api/models/{name}/public-card``: what is asked, approved and public;
- ``PUT`` the same: the team asks to publish the fields it marks true (the card's
  text as it is now); the ``publish-card`` decision right says who approves;
- ``POST .../public-card/approve`` (approvers), ``.../public-card/withdraw`` (team or
  approvers, with a reason).
"""

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import TokenScopePermission, visible
from registry import cards
from registry.models import PUBLIC_CARD_FIELDS, MLModel, PublicCard


class PublicCardSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    public = serializers.BooleanField(source="is_public", read_only=True)
    public_url = serializers.SerializerMethodField()
    approvals = serializers.SerializerMethodField()

    class Meta:
        model = PublicCard
        fields = [
            "model",
            *(f"publish_{name}" for name in PUBLIC_CARD_FIELDS),
            "status",
            "public",
            "public_url",
            "requested_fields",
            "requested_by",
            "requested_at",
            "approvals",
            "published_fields",
            "published_at",
            "withdrawn_at",
            "withdrawn_reason",
        ]
        read_only_fields = fields

    def get_public_url(self, card) -> str | None:
        if not card.is_public:
            return None
        return reverse("public-card", kwargs={"name": card.model.name})

    def get_approvals(self, card) -> list[dict]:
        return [
            {"approver": item["approver"], "at": item["created_at"], "comment": item["comment"]}
            for item in card.approvals
        ]


class PublishRequestSerializer(serializers.Serializer):
    intended_use = serializers.BooleanField(default=False)
    out_of_scope_uses = serializers.BooleanField(default=False)
    capabilities = serializers.BooleanField(default=False)
    known_limitations = serializers.BooleanField(default=False)


class CardApprovalSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class CardWithdrawalSerializer(serializers.Serializer):
    reason = serializers.CharField()


class _CardView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    def model(self, name) -> MLModel:
        """The model, if the caller sees it or holds the approve right on it (else 404)."""
        models = visible(MLModel.objects.select_related("team"), self.request.user,
                         ("view", "approve"))  # fmt: skip
        model = models.filter(name=name).first()
        if model is None:
            raise Http404
        return model

    def answer(self, card) -> Response:
        card = PublicCard.objects.select_related("model", "requested_by").get(pk=card.pk)
        return Response(PublicCardSerializer(card).data)


class PublicCardView(_CardView):
    @extend_schema(responses=PublicCardSerializer)
    def get(self, request, name):
        card = PublicCard.objects.filter(model=self.model(name)).first()
        if card is None:
            raise Http404
        return self.answer(card)

    @extend_schema(request=PublishRequestSerializer, responses=PublicCardSerializer)
    def put(self, request, name):
        """Ask to publish the fields marked true, with the card's text as it is now."""
        model = self.model(name)
        body = PublishRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.answer(cards.request_publication(model, request.user, body.validated_data))


class PublicCardApproveView(_CardView):
    @extend_schema(request=CardApprovalSerializer, responses=PublicCardSerializer)
    def post(self, request, name):
        model = self.model(name)
        body = CardApprovalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        card = cards.approve_publication(
            model, request.user, comment=body.validated_data["comment"]
        )
        return self.answer(card)


class PublicCardWithdrawView(_CardView):
    @extend_schema(request=CardWithdrawalSerializer, responses=PublicCardSerializer)
    def post(self, request, name):
        model = self.model(name)
        body = CardWithdrawalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        card = cards.withdraw_publication(model, request.user, reason=body.validated_data["reason"])
        return self.answer(card)
