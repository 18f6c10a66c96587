from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import exports, keys, proofs
from audit.api.serializers import (
    AuditEventSerializer,
    AuditExportSerializer,
    CheckpointSerializer,
    ConsistencySerializer,
    ProofSerializer,
    SigningKeySerializer,
    b64,
)
from audit.filtersets import AuditEventFilter
from audit.models import AuditCheckpoint, AuditEvent, AuditExport
from config.api import int_query_param
from config.errors import BadParameter, Missing
from govreg_verify.checkpoint import Checkpoint


class CanViewAuditTrail(permissions.BasePermission):
    """Holders of ``audit.view_auditevent`` (auditor, board, admin) read the whole trail.

    The audit app sits below ``accounts``, so it checks its own permission here
    instead of through ``accounts.permissions`` (README, Identity).
    """

    message = "Reading the audit trail needs the auditor, board or admin role."

    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("audit.view_auditevent"))


AUDIT_READERS = [permissions.IsAuthenticated, CanViewAuditTrail]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, read-only, filterable by object, actor and time window. Each event
    carries ``canonical``, the exact text that was hashed, so it re-verifies offline."""

    queryset = AuditEvent.objects.order_by("seq")
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    permission_classes = AUDIT_READERS
    lookup_field = "seq"


def checkpoint_answer(row: AuditCheckpoint) -> dict:
    parsed = Checkpoint.parse(row.signed_text)
    return {
        "origin": parsed.origin,
        "tree_size": row.tree_size,
        "root_hash": b64(parsed.root_hash),
        "key_id": row.key_id,
        "created_at": row.created_at,
        "note": row.note(),
    }


class CheckpointView(APIView):
    """The latest signed checkpoint: the size of the trail and its Merkle root, signed."""

    permission_classes = AUDIT_READERS

    @extend_schema(responses=CheckpointSerializer)
    def get(self, request):
        row = AuditCheckpoint.objects.order_by("-tree_size").first()
        if row is None:
            raise Missing("no checkpoint has been signed yet (manage.py audit_checkpoint)")
        return Response(CheckpointSerializer(checkpoint_answer(row)).data)


def _note_at(size: int) -> str | None:
    row = AuditCheckpoint.objects.filter(tree_size=size).first()
    return row.note() if row else None


def _tree_size(request, name: str, *, required: bool) -> int:
    """A tree size parameter: 1..the trail's size; default the latest checkpoint's."""
    current = proofs.current_size()
    if request.query_params.get(name) in (None, ""):
        if required:
            raise BadParameter("is required", field=name)
        row = AuditCheckpoint.objects.order_by("-tree_size").first()
        if row is None:
            raise BadParameter("no checkpoint signed yet: give a tree size", field=name)
        return row.tree_size
    value = int_query_param(request, name, 0, low=1, high=None)
    if value > current:
        raise BadParameter(f"the trail holds {current} events, fewer than {value}", field=name)
    return value


class ProofView(APIView):
    """RFC 6962 inclusion proof (audit path) of event ``seq`` in the tree of ``tree_size``."""

    permission_classes = AUDIT_READERS

    @extend_schema(
        parameters=[
            OpenApiParameter("seq", int, required=True),
            OpenApiParameter("tree_size", int, description="default: the latest checkpoint's"),
        ],
        responses=ProofSerializer,
    )
    def get(self, request):
        if request.query_params.get("seq") in (None, ""):
            raise BadParameter("is required", field="seq")
        seq = int_query_param(request, "seq", 0, low=1, high=None)
        size = _tree_size(request, "tree_size", required=False)
        if seq > size:
            raise BadParameter(f"must be at most tree_size ({size})", field="seq")
        found = proofs.inclusion(seq, size)
        answer = {
            "seq": seq,
            "leaf_index": seq - 1,
            "tree_size": size,
            "event_hash": found["event_hash"],
            "audit_path": [b64(node) for node in found["audit_path"]],
            "root_hash": b64(found["root_hash"]),
            "checkpoint": _note_at(size),
        }
        return Response(ProofSerializer(answer).data)


class ConsistencyView(APIView):
    """RFC 6962 consistency proof that the tree of ``to`` events extends the one of ``from``."""

    permission_classes = AUDIT_READERS

    @extend_schema(
        parameters=[
            OpenApiParameter("from", int, required=True),
            OpenApiParameter("to", int, description="default: the latest checkpoint's"),
        ],
        responses=ConsistencySerializer,
    )
    def get(self, request):
        old = _tree_size(request, "from", required=True)
        new = _tree_size(request, "to", required=False)
        if old > new:
            raise BadParameter(f"must be at most to ({new})", field="from")
        found = proofs.consistency(old, new)
        answer = {
            "from_size": old,
            "to_size": new,
            "proof": [b64(node) for node in found["proof"]],
            "from_root": b64(found["old_root"]),
            "to_root": b64(found["new_root"]),
            "from_checkpoint": _note_at(old),
            "to_checkpoint": _note_at(new),
        }
        return Response(ConsistencySerializer(answer).data)


class KeysView(APIView):
    """Every public key that signed checkpoints and bundles, current and retired. Public
    keys are public: no sign-in needed."""

    permission_classes = [permissions.AllowAny]
    authentication_classes = []

    @extend_schema(responses=SigningKeySerializer(many=True))
    def get(self, request):
        return Response(SigningKeySerializer(keys.known_keys(), many=True).data)


class AuditExportViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Exports of a period of the trail (optionally one object's events) as signed bundles,
    built by a task: ask, follow ``status``/``percent``/``events``, then download."""

    queryset = AuditExport.objects.order_by("-created_at", "-id")
    serializer_class = AuditExportSerializer
    permission_classes = AUDIT_READERS

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        export = exports.request_export(AuditExport(**serializer.validated_data), request.user)
        export.refresh_from_db()
        return Response(self.get_serializer(export).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "application/zip"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The signed bundle (zip), once the export is done (409 before)."""
        export = self.get_object()
        handle = exports.open_download(export)
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"govreg-audit-export-{export.pk}.zip",
            content_type="application/zip",
        )
