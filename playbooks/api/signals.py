"""Signal intake (Alertmanager webhook, plain JSON), the signal list and mapping,
and investigation tasks. Every queryset is scoped to the caller's teams."""

import hashlib
import json
import math

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.filters import BaseFilterBackend, OrderingFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.base import ScopedModelViewSet
from accounts.permissions import TokenScopePermission, may, perm_name, visible
from config.api import problem
from playbooks import filtersets
from playbooks.api import serializers as s
from playbooks.api.common import ConflictAs409, IsPipeline
from playbooks.choices import SignalSource
from playbooks.models import InvestigationTask, Signal
from playbooks.services import triage
from registry.models import MLModel


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


def _answer(signals: list[Signal]) -> dict:
    return {
        "received": len(signals),
        "signals": [
            {
                "id": sig.pk,
                "triage": sig.triage,
                "incident": sig.incident_id,
                "investigation_task": sig.investigation_task_id,
            }
            for sig in signals
        ],
    }


class AlertmanagerWebhookView(ConflictAs409, APIView):
    """``POST /api/signals/alertmanager``: Alertmanager's webhook (payload version 4).

    Every well-formed payload is stored and answered 200, even when its labels
    match no model (kept as unlinked signals), because Alertmanager retries
    anything else. A malformed one gets a 400 naming the field."""

    permission_classes = [IsAuthenticated, TokenScopePermission, IsPipeline]

    @extend_schema(request=s.AlertmanagerPayloadSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        payload = s.AlertmanagerPayloadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        stored = []
        for raw, alert in zip(request.data["alerts"], data["alerts"], strict=True):
            labels = {**data["commonLabels"], **alert["labels"]}
            annotations = {**data["commonAnnotations"], **alert["annotations"]}
            ends_at = alert.get("endsAt")
            if ends_at is not None and ends_at.year < 1000:
                ends_at = None  # Alertmanager's zero time: still firing
            signal_input = triage.SignalInput(
                source=SignalSource.ALERTMANAGER,
                sender=data["receiver"] or "alertmanager",
                metric=labels.get("metric") or labels.get("alertname", ""),
                value=_parse_value(annotations, labels),
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
            stored.append(triage.ingest(signal_input, request.user))
        return Response(_answer(stored), status=status.HTTP_200_OK)


class SignalScopeFilter(BaseFilterBackend):
    """Signals of the caller's models; unlinked signals only for global readers."""

    def filter_queryset(self, request, queryset, view):
        user = request.user
        if user.has_perm(perm_name(Signal, "view")):
            return queryset
        allowed = visible(MLModel.objects.all(), user)
        return queryset.filter(model__in=allowed.values("pk"))


class SignalViewSet(
    ConflictAs409,
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
    filter_backends = [SignalScopeFilter, DjangoFilterBackend, OrderingFilter]
    filterset_class = filtersets.SignalFilter
    ordering_fields = ["received_at", "observed_at"]
    permission_classes = [IsAuthenticated, TokenScopePermission]

    def create(self, request, *args, **kwargs):
        if not IsPipeline().has_permission(request, self):
            raise PermissionDenied(IsPipeline.message)
        body = s.PlainSignalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        labels = dict(data.get("labels") or {})
        signal = triage.ingest(
            triage.SignalInput(
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
        return Response(_answer([signal])["signals"][0], status=status.HTTP_201_CREATED)

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


class InvestigationTaskViewSet(ConflictAs409, ScopedModelViewSet):
    """``/api/investigation-tasks/``: what questionable signals asked the team to check."""

    queryset = InvestigationTask.objects.select_related("model", "closed_by")
    serializer_class = s.InvestigationTaskSerializer
    scope_path = "model"
    scope_model = MLModel
    http_method_names = ["get", "post", "head", "options"]
    filterset_fields = ["status"]

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
