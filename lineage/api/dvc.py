"""POST /api/lineage/dvc-imports: run ``import_dvc`` as a Celery task.

The repository must lie under one of ``GOVREG_LINEAGE_DVC_ROOTS`` (none by
default: the endpoint is off until an operator names the directories it may read).
"""

from pathlib import Path

from django.conf import settings
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ActionPermission, TokenScopePermission
from lineage.tasks import import_dvc_task


class DvcImportSerializer(serializers.Serializer):
    path = serializers.CharField(max_length=4096)
    namespace = serializers.CharField(max_length=1024, default="dvc")
    rev = serializers.CharField(max_length=255, required=False, allow_null=True, default=None)

    def validate_path(self, value):
        roots = [Path(root).resolve() for root in settings.GOVREG_LINEAGE_DVC_ROOTS]
        if not roots:
            raise PermissionDenied(
                "DVC import through the API is off: set GOVREG_LINEAGE_DVC_ROOTS."
            )
        path = Path(value).resolve()
        if not any(path == root or root in path.parents for root in roots):
            raise serializers.ValidationError("This path is outside GOVREG_LINEAGE_DVC_ROOTS.")
        if not (path / ".dvc").is_dir():
            raise serializers.ValidationError("This path is not a DVC repository (no .dvc).")
        return str(path)


class DvcImportView(APIView):
    permission_classes = [ActionPermission, TokenScopePermission]
    write_permission = ("add", "lineage.lineageevent")
    permission_denied_message = "Writing lineage needs the pipeline or ml-engineer role."

    @extend_schema(request=DvcImportSerializer, responses={202: OpenApiTypes.OBJECT})
    def post(self, request):
        serializer = DvcImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = request.user.get_username()
        queued = {}

        def enqueue():
            queued["task"] = import_dvc_task.delay(
                data["path"], data["namespace"], data["rev"], actor
            )

        transaction.on_commit(enqueue)
        body = {"status": "queued", **data}
        if "task" in queued:  # eager mode outside a transaction runs it at once
            body["task_id"] = queued["task"].id
        return Response(body, status=202)
