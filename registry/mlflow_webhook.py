"""MLflow's registry webhooks (MLflow 3's ``create_webhook``), signed, as a faster way
in than the beat's poll: ``POST /api/mlflow/webhook``.

MLflow signs each delivery with the webhook's secret: ``X-MLflow-Signature: v1,<base64
HMAC-SHA256 of "<X-MLflow-Delivery-Id>.<X-MLflow-Timestamp>.<body>">``. govreg checks
it with ``GOVREG_MLFLOW_WEBHOOK_SECRET`` and refuses a timestamp more than
``GOVREG_MLFLOW_WEBHOOK_TOLERANCE_SECONDS`` away (a replay). The delivery says which
registered model changed; govreg does not trust its content beyond that name and syncs
that model from MLflow (``registry.sync_mlflow``), so a replay within the window only
runs an idempotent sync again. The beat's poll stays the fallback for a lost delivery.
Off (404) unless both the tracking URI and the secret are set.
"""

import base64
import hashlib
import hmac
import logging
import time

from django.conf import settings
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_body
from lineage.api.body import BodyError, parse_json, read_body
from registry.mlflow_sync import MLflowSyncError

log = logging.getLogger(__name__)

SIGNATURE = "X-MLflow-Signature"
TIMESTAMP = "X-MLflow-Timestamp"
DELIVERY = "X-MLflow-Delivery-Id"
MAX_BODY_BYTES = 1024 * 1024
# The registry's entities; prompt and budget events have nothing for govreg.
MODEL_ENTITIES = {"registered_model", "model_version", "model_version_tag", "model_version_alias"}


class Refused(Exception):
    pass


def verify(headers, body: bytes, *, secret: str, now: float | None = None) -> None:
    """Raise ``Refused`` unless the delivery is signed with ``secret`` and fresh."""
    delivery, stamp, signature = (headers.get(h, "") for h in (DELIVERY, TIMESTAMP, SIGNATURE))
    missing = [h for h, v in ((DELIVERY, delivery), (TIMESTAMP, stamp), (SIGNATURE, signature))
               if not v]  # fmt: skip
    if missing:
        raise Refused(f"Missing {', '.join(missing)}: MLflow signs deliveries of a webhook "
                      "created with a secret.")  # fmt: skip
    try:
        moment = int(stamp)
    except ValueError:
        raise Refused(f"{TIMESTAMP} must be Unix seconds, got {stamp[:40]!r}.") from None
    tolerance = settings.GOVREG_MLFLOW_WEBHOOK_TOLERANCE_SECONDS
    if abs((now if now is not None else time.time()) - moment) > tolerance:
        raise Refused(
            f"{TIMESTAMP} is more than {tolerance} s away from govreg's clock "
            "(GOVREG_MLFLOW_WEBHOOK_TOLERANCE_SECONDS): refused as a possible replay."
        )
    signed = delivery.encode() + b"." + stamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    offered = [
        part.split(",", 1)[1].encode() for part in signature.split() if part.startswith("v1,")
    ]
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise Refused(f"{SIGNATURE} does not verify with GOVREG_MLFLOW_WEBHOOK_SECRET.")


class MLflowDeliverySerializer(serializers.Serializer):
    """What govreg reads of MLflow's delivery (the rest is ignored)."""

    entity = serializers.CharField()
    action = serializers.CharField()
    timestamp = serializers.CharField(required=False)
    data = serializers.DictField()

    def validate_data(self, value):
        if not isinstance(value.get("name"), str) or not value["name"]:
            raise serializers.ValidationError("Name the registered model (data.name).")
        return value


class MLflowDeliveryReceiptSerializer(serializers.Serializer):
    event = serializers.CharField(help_text="MLflow's entity.action")
    model = serializers.CharField(allow_blank=True, help_text="The registered model named")
    sync = serializers.BooleanField(help_text="Whether a sync of that model was started")


def _start_sync(name: str) -> None:
    from registry.tasks import sync_mlflow

    try:
        sync_mlflow.delay([name])
    except MLflowSyncError:  # eager mode: the poll retries later
        log.exception("the sync of %s after an MLflow webhook failed", name)


class MLflowWebhookView(APIView):
    """``POST /api/mlflow/webhook``: a signed MLflow registry webhook delivery (no token:
    the signature is the credential). 202 and a sync of the model named; 401 for a
    missing, stale or wrong signature; 404 while MLflow webhooks are off."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []

    @extend_schema(
        operation_id="mlflow_webhook",
        request=MLflowDeliverySerializer,
        responses={
            202: MLflowDeliveryReceiptSerializer,
            401: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Missing or stale X-MLflow-Timestamp, or an X-MLflow-Signature "
                "that does not verify with GOVREG_MLFLOW_WEBHOOK_SECRET.",
            ),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="MLflow webhooks are off."),
        },
    )
    def post(self, request):
        secret = settings.GOVREG_MLFLOW_WEBHOOK_SECRET
        if not (secret and settings.GOVREG_MLFLOW_TRACKING_URI):
            message = (
                "MLflow webhooks are off: set GOVREG_MLFLOW_TRACKING_URI and "
                "GOVREG_MLFLOW_WEBHOOK_SECRET."
            )
            return Response(error_body(404, "not_found", message), status=404)
        try:
            body = read_body(request._request, MAX_BODY_BYTES)
            verify(request.headers, body, secret=secret)
            payload = parse_json(body)
        except BodyError as exc:
            return Response(error_body(exc.status, exc.code, exc.message), status=exc.status)
        except Refused as exc:
            return Response(error_body(401, "not_authenticated", str(exc)), status=401)
        delivery = MLflowDeliverySerializer(data=payload)
        delivery.is_valid(raise_exception=True)
        entity, action = delivery.validated_data["entity"], delivery.validated_data["action"]
        name = delivery.validated_data["data"]["name"]
        wanted = entity in MODEL_ENTITIES
        if wanted:
            transaction.on_commit(lambda: _start_sync(name))
        receipt = {"event": f"{entity}.{action}", "model": name if wanted else "", "sync": wanted}
        return Response(MLflowDeliveryReceiptSerializer(receipt).data, status=202)
