"""Alert intakes beyond Alertmanager, through the same triage, linking and
deduplication (``playbooks.services.linking``, ``triage``):

- ``POST /api/signals/grafana``: Grafana alerting's webhook contact point, accepted as
  sent (Alertmanager's payload plus Grafana's fields); the links Grafana adds
  (dashboard, panel, silence, image) are kept on the signal's annotations;
- ``POST /api/signals/webhook/{source}``: one reading from any monitoring product,
  signed with HMAC-SHA256 by a registered ``WebhookSource``
  (``playbooks.services.webhook_sources`` says how).
"""

import hashlib
import json

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ActionPermission, TokenScopePermission
from audit import context as audit_context
from audit.context import acting_as
from config.api import OutsideRequestTransaction, error_body
from lineage.api.body import BodyError, parse_json, read_body
from playbooks.api.serializers.intakes import GrafanaPayloadSerializer, SignedSignalSerializer
from playbooks.api.serializers.signals import (
    IntakeReceiptSerializer,
    SignalOutcomeSerializer,
    check_alertmanager_limits,
)
from playbooks.api.signals import (
    SEND_SIGNALS,
    SEND_SIGNALS_REFUSED,
    Outcome,
    _alert_input,
    _parse_value,
    deliver,
)
from playbooks.choices import SignalSource
from playbooks.services import triage, webhook_sources
from playbooks.services.linking import SignalInput

# Grafana's links on each alert, kept as annotations under these names.
GRAFANA_LINKS = ("dashboardURL", "panelURL", "silenceURL", "imageURL")
GRAFANA_PREFIX = "grafana."


def _body(request) -> dict:
    """The request's JSON (bounded, gzip allowed, strict), or ``BodyError``."""
    return parse_json(read_body(request._request, settings.GOVREG_SIGNALS_MAX_BODY_BYTES))


def _body_error(exc: BodyError) -> Response:
    message = exc.message
    if exc.status == 413:
        message += " (GOVREG_SIGNALS_MAX_BODY_BYTES)"
    return Response(error_body(exc.status, exc.code, message), status=exc.status)


def _grafana_value(annotations: dict, labels: dict, values: dict | None) -> float | None:
    """The reading: a ``value`` annotation or label (as for Alertmanager); else the
    rule's value named by the ``value_ref`` label (a ref id such as ``B``); else the
    only value when the rule has just one."""
    value = _parse_value(annotations, labels)
    if value is not None or not values:
        return value
    ref = labels.get("value_ref")
    if ref:
        return _parse_value({"value": values.get(ref)})
    if len(values) == 1:
        return _parse_value({"value": next(iter(values.values()))})
    return None


def _grafana_input(raw: dict, alert: dict, data: dict) -> SignalInput:
    """Alertmanager's alert plus Grafana's links (as ``grafana.*`` annotations) and values."""
    links = {GRAFANA_PREFIX + name: alert[name] for name in GRAFANA_LINKS if alert.get(name)}
    if data.get("orgId") is not None:
        links[GRAFANA_PREFIX + "orgId"] = str(data["orgId"])
    return _alert_input(
        raw,
        alert,
        data,
        source=SignalSource.GRAFANA,
        extra_annotations=links,
        value=lambda annotations, labels: _grafana_value(annotations, labels, alert.get("values")),
    )


class GrafanaWebhookView(OutsideRequestTransaction, APIView):
    """``POST /api/signals/grafana``: Grafana alerting's webhook contact point.

    Authenticated like Alertmanager's intake (a pipeline token: set the contact
    point's Authorization header scheme ``Bearer`` and the token as its credentials),
    with the same limits, the same answers (200 with each alert's outcome, or 202 when
    triage is deferred) and the same triage: the model, version and environment come
    from the ``model``, ``version`` and ``environment`` labels."""

    permission_classes = [IsAuthenticated, TokenScopePermission, ActionPermission]
    read_permission = write_permission = SEND_SIGNALS
    permission_denied_message = SEND_SIGNALS_REFUSED
    parser_classes: list = []

    @extend_schema(
        operation_id="signals_grafana",
        request=GrafanaPayloadSerializer,
        responses={200: IntakeReceiptSerializer, 202: IntakeReceiptSerializer},
    )
    def post(self, request):
        try:
            body = _body(request)
        except BodyError as exc:
            return _body_error(exc)
        check_alertmanager_limits(body)
        payload = GrafanaPayloadSerializer(data=body)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        inputs = [
            _grafana_input(raw, alert, data)
            for raw, alert in zip(body["alerts"], data["alerts"], strict=True)
        ]
        return deliver(inputs, request.user)


def _refused(message: str) -> Response:
    return Response(error_body(401, "not_authenticated", message), status=401)


class SignedWebhookView(APIView):
    """``POST /api/signals/webhook/{source}``: one reading signed by a registered
    source (no token: the signature is the credential). A refused signature, an
    unknown source and a stale timestamp are 401 with a JSON message; a body that
    verifies but cannot be read is a 400 naming the field."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []

    @extend_schema(
        operation_id="signals_webhook",
        request=SignedSignalSerializer,
        responses={
            200: SignalOutcomeSerializer,
            401: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Missing or stale X-Govreg-Timestamp, or a signature that "
                "does not verify for this source (an unknown source answers the same).",
            ),
        },
    )
    def post(self, request, source):
        try:
            raw = read_body(request._request, settings.GOVREG_SIGNALS_MAX_BODY_BYTES)
        except BodyError as exc:
            return _body_error(exc)
        try:
            sender = webhook_sources.verify(source, request.headers, raw)
        except webhook_sources.WebhookRefused as exc:
            return _refused(exc.message)
        try:
            body = parse_json(raw)
        except BodyError as exc:
            return _body_error(exc)
        reading = SignedSignalSerializer(data=body)
        reading.is_valid(raise_exception=True)
        data = reading.validated_data
        identity = {"source": sender.name, "model": data["model"], "metric": data["metric"]}
        identity.update({f"label:{k}": v for k, v in data["labels"].items()})
        fingerprint = hashlib.sha256(
            json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()[:16]
        with acting_as(sender.sender, request_id=audit_context.current().request_id):
            signal, duplicate = triage.ingest(
                SignalInput(
                    source=SignalSource.WEBHOOK,
                    sender=sender.name,
                    metric=data["metric"],
                    value=data["value"],
                    labels=dict(data["labels"]),
                    observed_at=data["time"],
                    fingerprint=fingerprint,
                    payload=body,
                    model_name=data["model"],
                    version_name=data.get("version", ""),
                    environment_name=data.get("environment", ""),
                ),
                sender.sender,
            )
        return Response(SignalOutcomeSerializer(Outcome(signal, duplicate)).data)
