"""``GET /api/models/{name}/dossier``: a model version's Annex IV dossier as JSON, PDF
or a signed bundle; ``GET /api/schemas/dossier.json``: the JSON Schema it follows.

Readable by whoever may see the model (its team, board, auditors, admins); another
team's model is a 404. Each export is an audit event (``dossier.exported``).
"""

import io

from django.http import HttpResponse, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import TokenScopePermission, scope_queryset
from config.errors import BadParameter, Missing
from registry import dossier, ml_bom
from registry.dossier_sections import audit_trail_events
from registry.models import MLModel


class PassThroughRenderer(BaseRenderer):
    """Lets ``?format=pdf`` through DRF's content negotiation; the view answers the
    bytes itself."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class PDFRenderer(PassThroughRenderer):
    media_type = "application/pdf"
    format = "pdf"


class BundleRenderer(PassThroughRenderer):
    media_type = "application/zip"
    format = "bundle"


def requested_format(request, allowed) -> str:
    """The ``format`` query parameter, one of ``allowed`` (default the first)."""
    value = request.query_params.get("format") or allowed[0]
    if value not in allowed:
        raise BadParameter(f"must be one of {', '.join(allowed)}", field="format")
    return value


class ExportNegotiationMixin:
    """``?format=`` names the export: an unknown one is a 400 naming ``format``, not
    DRF's 404 for a format it has no renderer for."""

    export_formats: tuple[str, ...] = ()

    def perform_content_negotiation(self, request, force=False):
        requested_format(request, self.export_formats)
        return super().perform_content_negotiation(request, force)


def attachment(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def visible_model(user, reference: str) -> MLModel:
    """The model named ``reference`` (its name, or its id) that ``user`` may see."""
    models = scope_queryset(MLModel.objects.select_related("team"), user)
    model = models.filter(name=reference).first()
    if model is None and reference.isdigit():
        model = models.filter(pk=int(reference)).first()
    if model is None:
        raise Missing(f"No model {reference!r}.")
    return model


class DossierView(ExportNegotiationMixin, APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]
    renderer_classes = [JSONRenderer, PDFRenderer, BundleRenderer]
    export_formats = dossier.FORMATS

    @extend_schema(
        operation_id="models_dossier",
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH, description="model name or id"),
            OpenApiParameter("version", str, description="version label (default: the newest)"),
            OpenApiParameter(
                "asOf", OpenApiTypes.DATETIME, description="the dossier as it stood then"
            ),
            OpenApiParameter("format", str, enum=list(dossier.FORMATS), description="json"),
        ],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The dossier; JSON follows /api/schemas/dossier.json. "
                "format=pdf answers application/pdf, format=bundle a signed zip.",
            )
        },
    )
    def get(self, request, name):
        """A model version's technical documentation along Annex IV's nine points."""
        fmt = requested_format(request, self.export_formats)
        as_of = dossier.parse_as_of(request.query_params.get("asOf"))
        model = visible_model(request.user, name)
        version = dossier.pick_version(model, request.query_params.get("version"), as_of)
        document = dossier.build_dossier(version, user=request.user, as_of=as_of)
        dossier.record_export(version, fmt=fmt, as_of=as_of, document=document)
        stem = f"{model.name}-{version.version}-dossier"
        if fmt == "pdf":
            return attachment(dossier.render_pdf(document), "application/pdf", f"{stem}.pdf")
        if fmt == "bundle":
            return attachment(
                dossier_bundle(document, version, as_of, user=request.user),
                "application/zip",
                f"{stem}.zip",
            )
        return Response(document)


def dossier_bundle(document: dict, version, as_of, *, user=None) -> bytes:
    """The JSON and the PDF in a signed bundle with the model's audit events, and the
    version's CycloneDX ML-BOM (``ml-bom.cdx.json``) when the dossier is of now: the
    ML-BOM has no ``asOf``, so a dossier as it stood earlier goes without it."""
    from audit.bundles import write_bundle  # noqa: PLC0415  (lands with the audit export)

    files = [
        ("dossier.json", dossier.as_json_bytes(document)),
        ("dossier.pdf", dossier.render_pdf(document)),
    ]
    if as_of is None:
        bom = ml_bom.export(version, user=user)
        files.append(("ml-bom.cdx.json", ml_bom.as_json_bytes(bom)))
    out = io.BytesIO()
    write_bundle(
        out,
        files,
        kind="dossier",
        events=audit_trail_events(version.model, as_of),
        predicate={
            "model": document["model"]["name"],
            "version": document["version"]["version"],
            "as_of": document["as_of"],
        },
    )
    return out.getvalue()


class DossierSchemaView(APIView):
    """The JSON Schema every dossier's JSON follows; public (it holds no record)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        operation_id="schemas_dossier",
        responses={(200, "application/schema+json"): OpenApiTypes.OBJECT},
    )
    def get(self, request):
        return JsonResponse(dossier.dossier_schema(), content_type="application/schema+json")
