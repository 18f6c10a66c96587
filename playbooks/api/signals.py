"""Signal intake (Alertmanager webhook, plain JSON), the signal list and mapping,
and investigation tasks. Every queryset is scoped to the caller's teams."""

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import DatabaseError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.base import ScopedModelViewSet
from accounts.permissions import (
    ActionPermission,
    ObjectPermissionFilter,
    TokenScopePermission,
    may,
    may_any,
)
from audit import context as audit_context
from config.api import FilterBackend, OutsideRequestTransaction, error_body, problem
from lineage.api.body import BodyError, parse_json, read_body
from playbooks import filtersets, tasks
from playbooks.api import serializers as s
from playbooks.api.serializers.signals import (
    IntakeReceiptSerializer,
    SignalOutcomeSerializer,
    check_alertmanager_limits,
)
from playbooks.choices import SignalSource, Triage
from playbooks.models import InvestigationTask, Signal
from playbooks.services import triage
from playbooks.services.linking import SignalInput
from registry.models import MLModel

log = logging.getLogger(__name__)


def _parse_value(*sources: dict) -> float | None:
    """The alert's number from a ``value`` annotation or label; NaN and infinities
    count as no number (triage then falls back to the severity label)."""
    for source in sources:
        raw = source.get("value")
        if raw in (None, ""):
            continue
        try:
            number = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            return number
    return None


def _fingerprint(labels: dict) -> str:
    blob = json.dumps(labels, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _alert_input(
    raw: dict,
    alert: dict,
    data: dict,
    *,
    source: str = SignalSource.ALERTMANAGER,
    extra_annotations: dict | None = None,
    value=_parse_value,
) -> SignalInput:
    """One alert of an Alertmanager-shaped payload (Alertmanager's own, or Grafana's,
    which adds links and values): ``extra_annotations`` are kept beside the alert's,
    ``value(annotations, labels)`` reads the number."""
    labels = {**data["commonLabels"], **alert["labels"]}
    annotations = {**data["commonAnnotations"], **alert["annotations"], **(extra_annotations or {})}
    ends_at = alert.get("endsAt")
    if ends_at is not None and ends_at.year < 1000:
        ends_at = None  # Go's zero time: still firing
    return SignalInput(
        source=source,
        sender=data["receiver"] or source,
        metric=labels.get("metric") or labels.get("alertname", ""),
        value=value(annotations, labels),
        labels=labels,
        annotations=annotations,
        fingerprint=alert["fingerprint"] or _fingerprint(alert["labels"]),
        alert_status=alert["status"],
        starts_at=alert["startsAt"],
        ends_at=ends_at,
        generator_url=alert["generatorURL"],
        group_key=data["groupKey"],
        receiver=data["receiver"],
        payload=raw,
        model_name=labels.get("model", ""),
        version_name=labels.get("version", ""),
        environment_name=labels.get("environment", ""),
    )


@dataclass
class Outcome:
    signal: Signal
    duplicate: bool


@dataclass
class IntakeAnswer:
    received: int
    stored: int
    duplicates: int
    queued: int
    signals: list[Outcome] | None


def _enqueue_triage(signal_ids: list[int], user) -> None:
    """Hand the waiting signals to the triage task once the insert has committed."""
    request_id = audit_context.current().request_id
    transaction.on_commit(
        partial(tasks.enqueue_triage, signal_ids, getattr(user, "pk", None), request_id)
    )


# Sending signals (the webhook, a plain JSON POST): the pipeline role (or admin).
SEND_SIGNALS = ("add", "playbooks.signal")
SEND_SIGNALS_REFUSED = "Sending signals needs the pipeline role."


class AlertmanagerWebhookView(OutsideRequestTransaction, APIView):
    """``POST /api/signals/alertmanager``: Alertmanager's webhook (payload version 4).

    Every well-formed payload within the limits is stored and answered 2xx, even when
    its labels match no model (kept as unlinked signals), because Alertmanager retries
    anything else. A malformed one gets a 400 naming the field; one above the limits
    (body size, alerts per payload, label and annotation lengths) a 413 naming the
    setting. The request is not one transaction: the alerts are stored in one insert,
    then triaged in short transactions of their own, in the request for a payload of
    at most GOVREG_SIGNALS_SYNC_TRIAGE_MAX alerts (200, each alert's outcome), else by
    the ``playbooks.triage_signals`` task (202, what was received). A payload that fits
    one triage batch is stored and triaged in one transaction (``triage.intake``)."""

    permission_classes = [IsAuthenticated, TokenScopePermission, ActionPermission]
    read_permission = write_permission = SEND_SIGNALS
    permission_denied_message = SEND_SIGNALS_REFUSED
    parser_classes: list = []  # read by read_body: bounded, gzip allowed, strict JSON

    @extend_schema(
        request=s.AlertmanagerPayloadSerializer,
        responses={200: IntakeReceiptSerializer, 202: IntakeReceiptSerializer},
    )
    def post(self, request):
        try:
            body = parse_json(read_body(request._request, settings.GOVREG_SIGNALS_MAX_BODY_BYTES))
        except BodyError as exc:
            message = exc.message
            if exc.status == 413:
                message += " (GOVREG_SIGNALS_MAX_BODY_BYTES)"
            return Response(error_body(exc.status, exc.code, message), status=exc.status)
        check_alertmanager_limits(body)
        payload = s.AlertmanagerPayloadSerializer(data=body)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        inputs = [
            _alert_input(raw, alert, data)
            for raw, alert in zip(body["alerts"], data["alerts"], strict=True)
        ]
        return deliver(inputs, request.user)


def deliver(inputs: list[SignalInput], user) -> Response:
    """Store and triage one delivery of alerts (Alertmanager's, Grafana's): in the
    request for a small one (200, each alert's outcome), else by the task (202)."""
    sync = len(inputs) <= settings.GOVREG_SIGNALS_SYNC_TRIAGE_MAX
    if sync and len(inputs) <= settings.GOVREG_SIGNALS_TRIAGE_BATCH:
        receipt = triage.intake(inputs, user)  # stored and triaged together
    else:
        receipt = triage.receive(inputs, user)
    waiting = receipt.waiting_ids()
    outcomes = None
    if sync:
        try:
            triage.triage_received(waiting)
        except DatabaseError:
            log.exception("triage in the request failed; handing it to the task")
        else:
            # Only what was triaged after the intake is read again.
            current = (
                {sig.pk: sig for sig in Signal.objects.filter(pk__in=waiting)} if waiting else {}
            )
            outcomes = [
                Outcome(current.get(sig.pk, sig), dup)
                for sig, dup in zip(receipt.signals, receipt.duplicate, strict=True)
            ]
            waiting = [pk for pk, sig in current.items() if sig.triage == Triage.RECEIVED]
    if waiting:
        _enqueue_triage(waiting, user)
    answer = IntakeAnswer(
        received=receipt.received,
        stored=receipt.stored,
        duplicates=receipt.duplicates,
        queued=len(waiting),
        signals=outcomes,
    )
    code = status.HTTP_200_OK if outcomes is not None else status.HTTP_202_ACCEPTED
    return Response(IntakeReceiptSerializer(answer).data, status=code)


class SignalViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """``/api/signals/``: list and read signals; POST a plain JSON signal (pipeline role);
    ``/api/signals/{id}/map`` links an unlinked one to a model and triages it."""

    queryset = Signal.objects.select_related(
        "model", "model_version", "playbook_version__playbook"
    ).order_by("-received_at", "-id")
    serializer_class = s.SignalSerializer
    # the caller's models' signals; unlinked ones only for global readers
    filter_backends = [ObjectPermissionFilter, FilterBackend, OrderingFilter]
    scope_path = "model"
    scope_model = MLModel
    filterset_class = filtersets.SignalFilter
    ordering_fields = ["received_at", "observed_at"]
    permission_classes = [IsAuthenticated, TokenScopePermission]

    def create(self, request, *args, **kwargs):
        if not may_any(request.user, *SEND_SIGNALS):
            raise PermissionDenied(SEND_SIGNALS_REFUSED)
        body = s.PlainSignalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        labels = dict(data.get("labels") or {})
        signal, duplicate = triage.ingest(
            SignalInput(
                source=SignalSource.API,
                sender=data.get("source", ""),
                metric=data["metric"],
                value=data["value"],
                labels=labels,
                observed_at=data.get("observed_at"),
                payload=request.data,
                model_name=data["model"],
                version_name=data.get("version", ""),
                environment_name=data.get("environment", ""),
                deployment_id=data.get("deployment"),
            ),
            request.user,
        )
        body = SignalOutcomeSerializer(Outcome(signal, duplicate)).data
        return Response(body, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def map(self, request, pk=None):
        signal = self.get_object()
        body = s.MapSignalSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        model = body.validated_data["model"]
        if not may(request.user, "change", model):
            raise PermissionDenied("You may not add signals to this model.")
        signal = triage.map_signal(
            signal,
            request.user,
            model=model,
            version_name=body.validated_data.get("version", ""),
            environment_name=body.validated_data.get("environment", ""),
        )
        return Response(s.SignalSerializer(signal, context={"request": request}).data)


class InvestigationTaskViewSet(ScopedModelViewSet):
    """``/api/investigation-tasks/``: what questionable signals asked the team to check."""

    queryset = InvestigationTask.objects.select_related("model", "closed_by")
    serializer_class = s.InvestigationTaskSerializer
    scope_path = "model"
    scope_model = MLModel
    http_method_names = ["get", "post", "head", "options"]
    filterset_fields = ["status"]

    @extend_schema(exclude=True)  # not offered: the OpenAPI document leaves it out
    def create(self, request, *args, **kwargs):
        return problem(405, "Investigation tasks come from questionable signals.", code="method")

    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        body = s.NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = triage.close_task(
            self.get_object(), request.user, resolution=body.validated_data["note"]
        )
        return Response(s.InvestigationTaskSerializer(task).data)
