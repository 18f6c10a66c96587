"""Playbooks API: signals (intake and list), playbooks, incidents and their verbs,
investigation tasks, reviews, drills and action items. Every queryset is scoped
to the caller's teams (global roles see all); another team's record is a 404."""

import hashlib
import json
import math

from django.db import transaction
from django.db.models import Prefetch, Q
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.filters import BaseFilterBackend, OrderingFilter, SearchFilter
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.base import ScopedModelViewSet
from accounts.permissions import TokenScopePermission, may, perm_name, visible
from accounts.roles import Role, has_role
from config.api import problem
from playbooks import filtersets
from playbooks.api import serializers as s
from playbooks.choices import SignalSource
from playbooks.models import (
    ActionItem,
    Drill,
    Incident,
    InvestigationTask,
    Playbook,
    PostIncidentReview,
    Signal,
    StepCompletion,
)
from playbooks.services import IncidentConflict, linking, triage
from playbooks.services import incidents as incident_service
from playbooks.services import playbooks as playbook_service
from playbooks.services import reviews as review_service
from registry.models import MLModel


class ConflictAs409:
    """Turn a refused state change into a 409 (403 for a decision right) naming what is
    in the way."""

    def handle_exception(self, exc):
        if isinstance(exc, IncidentConflict):
            return problem(exc.status, exc.message, field=exc.field, code=exc.code)
        return super().handle_exception(exc)


class IsPipeline(BasePermission):
    message = "Sending signals needs the pipeline role."

    def has_permission(self, request, view):
        user = request.user
        return bool(user.is_superuser or has_role(user, Role.PIPELINE, Role.ADMIN))


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


class PlaybookViewSet(ScopedModelViewSet):
    """``/api/playbooks/``: a team's playbooks; every edit publishes a new version."""

    queryset = Playbook.objects.select_related("team").prefetch_related("thresholds")
    serializer_class = s.PlaybookSerializer
    filterset_class = filtersets.PlaybookFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "updated_at"]

    def _save(self, serializer, instance):
        data = dict(serializer.validated_data)
        thresholds = data.pop("thresholds", None)
        for name, value in data.items():
            setattr(instance, name, value)
        playbook_service.save_playbook(instance, user=self.request.user, thresholds=thresholds)
        serializer.instance = instance

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        self._save(serializer, Playbook())

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)

    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        playbook = self.get_object()
        versions = playbook.versions.select_related("created_by").order_by("-number")
        page = self.paginate_queryset(versions)
        data = s.PlaybookVersionSerializer(page, many=True).data
        return self.get_paginated_response(data)


def incident_links(deployment) -> dict:
    """A hand-opened incident on a deployment starts linked to its version and the
    version's training data, like one opened by a signal."""
    if deployment is None:
        return {}
    return linking.incident_links(
        linking.Links(
            model=deployment.model,
            model_version=deployment.model_version,
            deployment=deployment,
        )
    )


class IncidentViewSet(ConflictAs409, ScopedModelViewSet):
    """``/api/incidents/``: incidents of the caller's models, with the verbs
    acknowledge, contain, resolve, close, steps/{n}/complete, comments, serious, report."""

    scope_path = "model"
    scope_model = MLModel
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_class = filtersets.IncidentFilter
    search_fields = ["title", "description"]
    ordering_fields = ["opened_at", "severity", "status"]

    def get_queryset(self):
        queryset = Incident.objects.select_related(
            "model__team",
            "model_version",
            "playbook_version",
            "acknowledged_by",
            "contained_by",
            "review",
        ).prefetch_related(
            "risks",
            "dataset_versions",
            Prefetch("completions", queryset=StepCompletion.objects.select_related("completed_by")),
        )
        if self.action != "list":
            queryset = queryset.prefetch_related("timeline", "escalations")
        return queryset

    def get_serializer_class(self):
        if self.action == "list":
            return s.IncidentSerializer
        return s.IncidentDetailSerializer

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        data = serializer.validated_data
        playbook = data.get("playbook")
        serializer.instance = incident_service.open_incident(
            model=data["model"],
            title=data["title"],
            description=data.get("description", ""),
            severity=data.get("severity", Incident._meta.get_field("severity").default),
            environment_name=data.get("environment_name")
            or (data["deployment"].environment.name if data.get("deployment") else ""),
            playbook_version=playbook_service.latest_version(playbook) if playbook else None,
            user=self.request.user,
            links=incident_links(data.get("deployment")),
        )

    def _respond(self, incident):
        incident = self.get_queryset().get(pk=incident.pk)
        return Response(
            s.IncidentDetailSerializer(incident, context=self.get_serializer_context()).data
        )

    def _note(self, request, serializer_class=s.NoteSerializer):
        body = serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data

    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        data = self._note(request)
        return self._respond(incident_service.acknowledge(self.get_object(), request.user, **data))

    @action(detail=True, methods=["post"])
    def contain(self, request, pk=None):
        data = self._note(request, s.ContainSerializer)
        return self._respond(incident_service.contain(self.get_object(), request.user, **data))

    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        data = self._note(request)
        return self._respond(incident_service.resolve(self.get_object(), request.user, **data))

    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        data = self._note(request)
        return self._respond(incident_service.close(self.get_object(), request.user, **data))

    @action(detail=True, methods=["post"], url_path=r"steps/(?P<step>\d+)/complete")
    def complete_step(self, request, pk=None, step=None):
        data = self._note(request)
        incident = self.get_object()
        incident_service.complete_step(incident, int(step), request.user, **data)
        return self._respond(incident)

    @action(detail=True, methods=["get", "post"])
    def comments(self, request, pk=None):
        incident = self.get_object()
        if request.method == "POST":
            body = s.CommentSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            entry = incident_service.add_comment(
                incident, request.user, body.validated_data["text"]
            )
            return Response(s.TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
        entries = incident.timeline.filter(kind="comment").order_by("at", "id")
        return Response(s.TimelineEntrySerializer(entries, many=True).data)

    @action(detail=True, methods=["post"])
    def serious(self, request, pk=None):
        body = s.SeriousSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = incident_service.mark_serious(
            self.get_object(),
            request.user,
            category=body.validated_data["category"],
            aware_at=body.validated_data.get("aware_at"),
        )
        return self._respond(incident)

    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        body = s.ReportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = incident_service.record_report(
            self.get_object(), request.user, reported_at=body.validated_data.get("reported_at")
        )
        return self._respond(incident)


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


class ParentScopedViewSet(ConflictAs409, ScopedModelViewSet):
    """A child whose team is found through a parent (``scope_path``): creating needs the
    change right on the scoping object reached through that parent."""

    def check_create_scope(self, serializer):
        parent_name, _, rest = self.scope_path.partition("__")
        parent = serializer.validated_data.get(parent_name)
        if parent is None:
            return
        scope_obj = parent
        for part in rest.split("__") if rest else []:
            scope_obj = getattr(scope_obj, part)
        if not may(self.request.user, "change", scope_obj):
            raise PermissionDenied("You may not add records under this parent.")


class ReviewViewSet(ParentScopedViewSet):
    """``/api/reviews/``: post-incident reviews; ``/complete`` makes one final."""

    queryset = PostIncidentReview.objects.select_related(
        "incident__model", "completed_by"
    ).prefetch_related(
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "closed_by"))
    )
    serializer_class = s.ReviewSerializer
    scope_path = "incident__model"
    scope_model = MLModel
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = ["status", "incident"]

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        serializer.instance = review_service.save_review(
            PostIncidentReview(**serializer.validated_data)
        )

    def perform_update(self, serializer):
        review = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(review, name, value)
        review_service.save_review(review)

    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        review = review_service.complete_review(self.get_object(), request.user)
        review = self.get_queryset().get(pk=review.pk)
        return Response(self.get_serializer(review).data)


class DrillViewSet(ParentScopedViewSet):
    """``/api/drills/``: rehearsals of a playbook; ``/complete`` turns gaps into action items."""

    queryset = Drill.objects.select_related("playbook", "playbook_version").prefetch_related(
        "participants",
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "closed_by")),
    )
    serializer_class = s.DrillSerializer
    scope_path = "playbook"
    scope_model = Playbook
    filterset_fields = ["status", "playbook"]

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        data = dict(serializer.validated_data)
        participants = data.pop("participants", None)
        serializer.instance = review_service.save_drill(Drill(**data), participants=participants)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        participants = data.pop("participants", None)
        drill = serializer.instance
        for name, value in data.items():
            setattr(drill, name, value)
        review_service.save_drill(drill, participants=participants)

    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        body = s.CompleteDrillSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        drill = review_service.complete_drill(
            self.get_object(),
            request.user,
            what_went_wrong=body.validated_data["what_went_wrong"],
            gaps=body.validated_data["gaps"],
        )
        drill = self.get_queryset().get(pk=drill.pk)
        return Response(self.get_serializer(drill).data)


class ActionItemScopeFilter(BaseFilterBackend):
    def filter_queryset(self, request, queryset, view):
        user = request.user
        if user.has_perm(perm_name(ActionItem, "view")):
            return queryset
        models = visible(MLModel.objects.all(), user).values("pk")
        playbooks = visible(Playbook.objects.all(), user).values("pk")
        return queryset.filter(
            Q(review__incident__model__in=models) | Q(drill__playbook__in=playbooks)
        )


class ActionItemPermission(BasePermission):
    message = "You may see this action item but not change it."

    def has_object_permission(self, request, view, obj):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        scope = obj.review.incident.model if obj.review_id else obj.drill.playbook
        return may(request.user, "change", scope)


class ActionItemViewSet(ConflictAs409, viewsets.ModelViewSet):
    """``/api/action-items/``: follow-ups of reviews and drills; ``/complete`` applies
    the threshold recalibration or risk update it names."""

    queryset = ActionItem.objects.select_related(
        "owner", "closed_by", "review__incident__model", "drill__playbook"
    )
    serializer_class = s.ActionItemSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission, ActionItemPermission]
    filter_backends = [ActionItemScopeFilter, DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_fields = ["status", "review", "drill", "owner"]
    search_fields = ["title"]
    ordering_fields = ["due_date", "created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        scope = (
            data["review"].incident.model
            if data.get("review")
            else data["drill"].playbook
            if data.get("drill")
            else None
        )
        if scope is not None and not may(self.request.user, "change", scope):
            raise PermissionDenied("You may not add action items here.")
        serializer.instance = review_service.save_action_item(ActionItem(**data))

    def perform_update(self, serializer):
        item = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(item, name, value)
        review_service.save_action_item(item)

    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        item = self.get_object()
        body = s.CompleteActionItemSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        item = review_service.complete_action_item(
            item,
            request.user,
            note=body.validated_data["note"],
            evaluation=body.validated_data.get("evaluation"),
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=item.pk)).data)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        item = self.get_object()
        body = s.CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            item = review_service.cancel_action_item(
                item, request.user, reason=body.validated_data["reason"]
            )
        return Response(self.get_serializer(item).data)
