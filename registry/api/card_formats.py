"""A model's card in the formats the field uses, and a version's AI bill of materials.

``GET /api/models/{name}/card?format=huggingface``: the card as a Hugging Face
README.md; ``POST`` the same (a README.md as the body, ``?dry_run=true`` to see what
would change) imports it. ``GET /api/models/{name}/versions/{version}/ml-bom``: the
version's CycloneDX 1.6 ML-BOM. Readable by whoever may see the model; importing
needs the right to change it. Every import and export is an audit event.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import TokenScopePermission, may
from config.api import error_body
from config.errors import BadParameter, Missing
from lineage.api.body import BodyError, read_body
from registry import ml_bom, model_cards
from registry.api.dossier import (
    ExportNegotiationMixin,
    PassThroughRenderer,
    attachment,
    requested_format,
    visible_model,
)

CARD_FORMATS = ("huggingface",)
CARD_MEDIA_TYPES = ("text/markdown", "text/plain", "text/x-markdown")
_TRUE = {"1", "true", "yes"}
_FALSE = {"", "0", "false", "no"}


class MarkdownRenderer(PassThroughRenderer):
    media_type = "text/markdown"
    format = "huggingface"


class CycloneDXRenderer(JSONRenderer):
    """The same JSON under CycloneDX's media type, for an ``Accept`` that asks for it."""

    media_type = ml_bom.MEDIA_TYPE
    format = "cyclonedx"


class MappedSerializer(serializers.Serializer):
    source = serializers.CharField(help_text="The card's section or metadata key.")
    field = serializers.CharField(help_text="The govreg card field it filled.")


class UnmappedSerializer(serializers.Serializer):
    source = serializers.CharField(help_text="The card's section or metadata key.")
    reason = serializers.CharField(help_text="Why govreg could not take it.")


class CardImportSerializer(serializers.Serializer):
    """What an import did (or, with ``dry_run``, would do)."""

    model = serializers.CharField()
    dry_run = serializers.BooleanField()
    changed = serializers.ListField(child=serializers.CharField())
    mapped = MappedSerializer(many=True)
    unmapped = UnmappedSerializer(many=True)


def _dry_run(request) -> bool:
    raw = request.query_params.get("dry_run", "").strip().lower()
    if raw not in _TRUE | _FALSE:
        raise BadParameter("must be true or false", field="dry_run")
    return raw in _TRUE


class ModelCardView(ExportNegotiationMixin, APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]
    renderer_classes = [MarkdownRenderer, JSONRenderer]
    parser_classes: list = []  # the body is read as it is: the card's Markdown
    export_formats = CARD_FORMATS

    def perform_content_negotiation(self, request, force=False):
        if request.method != "GET":  # the answer is the import's report, as JSON
            return (JSONRenderer(), JSONRenderer.media_type)
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        operation_id="models_card_export",
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH, description="model name or id"),
            OpenApiParameter("format", str, enum=list(CARD_FORMATS), description="huggingface"),
        ],
        responses={
            (200, "text/markdown"): OpenApiResponse(
                OpenApiTypes.STR,
                description="The card as a Hugging Face README.md: a YAML header "
                "(ModelCardData) and the card's sections.",
            )
        },
    )
    def get(self, request, name):
        """The model's card in Hugging Face's README.md format."""
        requested_format(request, CARD_FORMATS)
        model = visible_model(request.user, name)
        text = model_cards.export_card(model)
        model_cards.record_export(model)
        return attachment(text.encode(), "text/markdown; charset=utf-8", f"{model.name}-README.md")

    @extend_schema(
        operation_id="models_card_import",
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH, description="model name or id"),
            OpenApiParameter(
                "dry_run", bool, description="report what would change; write nothing"
            ),
        ],
        request={"text/markdown": OpenApiTypes.STR, "text/plain": OpenApiTypes.STR},
        responses={
            200: CardImportSerializer,
            413: OpenApiResponse(OpenApiTypes.OBJECT, description="The card is too large."),
            415: OpenApiResponse(
                OpenApiTypes.OBJECT, description="The body is not text/markdown or text/plain."
            ),
        },
    )
    def post(self, request, name):
        """Import a Hugging Face README.md onto the model's card fields."""
        dry_run = _dry_run(request)
        model = visible_model(request.user, name)
        if not may(request.user, "change", model):
            raise PermissionDenied("You may not change this model's card.")
        media = request.content_type.split(";")[0].strip().lower()
        if media not in CARD_MEDIA_TYPES:
            message = (
                f"Send the README.md as text/markdown or text/plain, not {media or 'nothing'}."
            )
            return Response(error_body(415, "unsupported_media_type", message), status=415)
        try:
            body = read_body(request._request, model_cards.MAX_CARD_BYTES)
        except BodyError as exc:
            return Response(error_body(exc.status, exc.code, exc.message), status=exc.status)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadParameter("The card is not UTF-8 text.", field="card")
        result = model_cards.import_card(model, text, dry_run=dry_run)
        answer = {
            "model": model.name,
            "dry_run": result.dry_run,
            "changed": result.changed,
            "mapped": result.mapped,
            "unmapped": result.unmapped,
        }
        return Response(CardImportSerializer(answer).data)


class MLBomView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]
    renderer_classes = [JSONRenderer, CycloneDXRenderer]

    @extend_schema(
        operation_id="models_version_ml_bom",
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH, description="model name or id"),
            OpenApiParameter("version", str, OpenApiParameter.PATH, description="version label"),
        ],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A CycloneDX 1.6 ML-BOM (validated against the official JSON "
                "schema): the version as a machine-learning-model component with its "
                "modelCard, its training datasets as data components, lineage as "
                "dependencies.",
            )
        },
    )
    def get(self, request, name, version):
        """The version's AI bill of materials (CycloneDX 1.6)."""
        model = visible_model(request.user, name)
        found = (
            model.versions.select_related("model__team", "training_run")
            .filter(version=version)
            .first()
        )
        if found is None:
            raise Missing(f"{model.name} has no version {version!r}.")
        document = ml_bom.export(found, user=request.user)
        ml_bom.record_export(found, document)
        response = Response(document)
        response["Content-Disposition"] = (
            f'inline; filename="{model.name}-{found.version}.cdx.json"'
        )
        return response
