"""The pipeline API of the deployment gate.

    POST /api/deployment-requests/                 ask; 201 new, 200 the open one again
    GET  /api/deployment-requests/                 list (?status=&kind=&model=&environment=)
    GET  /api/deployment-requests/{id}/[?wait=S]   judged now; hold up to S s while pending
    POST /api/deployment-requests/{id}/approve     {"comment"}  approver
    POST /api/deployment-requests/{id}/reject      {"comment"}  approver, comment required
    POST /api/deployment-requests/{id}/deployed    {"note"}     pipeline, once (idempotent)
    POST /api/deployment-requests/{id}/failed      {"note"}     pipeline, approved only (409)

Asking names ``kind`` (``deploy``, the default, or ``rollback``) and may say
``"new": true`` to supersede the open request for the same version,
environment and kind instead of getting it back.

A request is visible to whoever sees its model (its team, board, auditor, admin)
or holds the approve right on it; anything else is a 404.
"""

import time

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.permissions import TokenScopePermission, may, scope_queryset
from config.api import filtered, problem
from config.serializers import FieldsBuiltOnce
from config.statements import Statement
from registry.choices import RequestKind, RequestStatus
from registry.gate import services
from registry.gate.filtersets import DeploymentRequestFilter
from registry.gate.serializers import DeploymentRequestSerializer, request_body
from registry.models import Approval, DeploymentRequest, Environment, MLModel, ModelVersion

MAX_WAIT_SECONDS = 60
POLL_SECONDS = 0.5
REJUDGE_EVERY_SECONDS = 2.5
NOT_FOUND = "No deployment request with this id is visible to you."


def visible_requests(user):
    """Requests of models the user may view, or approve (``may(user, "view", request)``
    answers the same for one)."""
    return scope_queryset(
        DeploymentRequest.objects.all(), user, "model_version__model", MLModel, ("view", "approve")
    )


def with_related(queryset):
    return queryset.select_related(
        "model_version__model", "environment", "requested_by", "deployment"
    ).prefetch_related(
        Prefetch(
            "approvals",
            queryset=Approval.objects.select_related("approver").order_by("created_at", "pk"),
        )
    )


class DeploymentRequestCreateSerializer(FieldsBuiltOnce, serializers.Serializer):
    model = serializers.SlugRelatedField(slug_field="name", queryset=MLModel.objects.all())
    version = serializers.CharField(max_length=100)
    environment = serializers.SlugRelatedField(
        slug_field="name", queryset=Environment.objects.all()
    )
    pipeline_run_url = serializers.URLField(
        max_length=1000, required=False, allow_blank=True, default=""
    )
    commit = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(
        choices=RequestKind.choices, required=False, default=RequestKind.DEPLOY
    )
    new = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Make a new request even if one is open (the open one is superseded).",
    )

    def validate_model(self, model):
        if not may(self.context["request"].user, ("view", "approve"), model):
            # another team's model reads as "does not exist", as everywhere else
            raise serializers.ValidationError(f"Object with name={model.name} does not exist.")
        return model

    def validate(self, attrs):
        version = _VERSION.first(model=attrs["model"].pk, version=attrs["version"])
        if version is None:
            raise serializers.ValidationError(
                {"version": f"Model {attrs['model'].name} has no version {attrs['version']!r}."}
            )
        attrs["model_version"] = version
        return attrs


_VERSION = Statement(
    lambda model, version: ModelVersion.objects.select_related(
        "model__team", "training_run__job", "registered_by"
    ).filter(model=model, version=version),
    model=int,
    version=str,
)


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class GateView(GenericAPIView):
    """The gate's views: refusals and conflicts the services raise (``GateRefused``,
    ``GateConflict``) are answered by ``config.api``'s one exception map (403, 409)."""

    permission_classes = [IsAuthenticated, TokenScopePermission]
    serializer_class = DeploymentRequestCreateSerializer
    queryset = DeploymentRequest.objects.none()  # for the schema; rows come from ``find``

    def find(self, pk) -> DeploymentRequest | None:
        """The request if the caller may see it (one row, then one permission check)."""
        deployment_request = services.load(pk)
        if not may(self.request.user, "view", deployment_request):
            return None
        return deployment_request

    def get_scoped(self, pk) -> DeploymentRequest:
        deployment_request = self.find(pk)
        if deployment_request is None:
            raise NotFound(NOT_FOUND)
        return deployment_request


class DeploymentRequestListCreate(GateView):
    """Ask the gate (POST) or list the requests you may see (GET)."""

    @extend_schema(
        operation_id="deployment_requests_list",
        parameters=[
            OpenApiParameter("status", str, enum=RequestStatus.values),
            OpenApiParameter("kind", str, enum=RequestKind.values),
            OpenApiParameter("model", str, description="model name"),
            OpenApiParameter("environment", str, description="environment name"),
        ],
        responses={200: DeploymentRequestSerializer(many=True)},
    )
    def get(self, request):
        queryset = with_related(visible_requests(request.user)).order_by("-created_at", "-pk")
        queryset = filtered(DeploymentRequestFilter, request, queryset)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(DeploymentRequestSerializer(page, many=True).data)

    @extend_schema(
        operation_id="deployment_requests_create",
        responses={201: DeploymentRequestSerializer, 200: DeploymentRequestSerializer},
    )
    def post(self, request):
        """201 with a new request; 200 with the open request for the same version,
        environment and kind (asked again), unless ``new`` is true."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        deployment_request, created = services.ask(
            model_version=data["model_version"],
            environment=data["environment"],
            user=request.user,
            kind=data["kind"],
            new=data["new"],
            pipeline_run_url=data["pipeline_run_url"],
            commit=data["commit"],
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(request_body(deployment_request), status=code)


def parse_wait(raw) -> float | None:
    """Seconds to hold the answer, 0..60; ``None`` when the value is not acceptable."""
    if raw in (None, ""):
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        return None
    if not 0 <= seconds <= MAX_WAIT_SECONDS or seconds != seconds:
        return None
    return seconds


class DeploymentRequestDetail(GateView):
    """The gate's answer as of now (judged, never stored: a read writes nothing);
    ``?wait=S`` holds it up to S seconds while the request is pending and unchanged.
    A decided request (approved, denied, superseded) or one with a reported outcome
    answers at once: there is nothing to wait for.

    Runs outside the per-request transaction (see ``detail_view``): every poll is
    its own short read, so nothing stays open or stale while a pipeline waits.
    """

    @extend_schema(
        operation_id="deployment_requests_retrieve",
        parameters=[
            OpenApiParameter(
                "wait", float, description="hold the answer up to this many seconds (0-60)"
            )
        ],
        responses={200: DeploymentRequestSerializer},
    )
    def get(self, request, pk):
        wait = parse_wait(request.query_params.get("wait"))
        if wait is None:
            return problem(400, f"Give 0 to {MAX_WAIT_SECONDS} seconds.", field="wait")
        # Answers are returned, not raised: this view runs outside the request
        # transaction and must not mark an enclosing one for rollback.
        deployment_request = self.find(pk)
        if deployment_request is None:
            return problem(404, NOT_FOUND, code="not_found")
        deployment_request = services.current(deployment_request)
        if wait <= 0 or not awaits_decision(deployment_request):
            return Response(request_body(deployment_request))
        start = (deployment_request.status, deployment_request.outcome)
        deadline = time.monotonic() + wait
        last_judged = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0)))
            current = DeploymentRequest.objects.filter(pk=pk).values("status", "outcome").first()
            if current is None or (current["status"], current["outcome"]) != start:
                break
            if time.monotonic() - last_judged >= REJUDGE_EVERY_SECONDS:
                last_judged = time.monotonic()
                judged = services.load(pk)
                if judged is None:
                    break
                judged = services.current(judged)
                if (judged.status, judged.outcome) != start:
                    break
        final = services.load(pk)
        if final is None:
            return problem(404, NOT_FOUND, code="not_found")
        return Response(request_body(services.current(final)))


def awaits_decision(deployment_request) -> bool:
    """Only a pending request with no reported outcome may still change by itself."""
    return deployment_request.status == RequestStatus.PENDING and not deployment_request.outcome


detail_view = transaction.non_atomic_requests(DeploymentRequestDetail.as_view())


class ApproveView(GateView):
    serializer_class = CommentSerializer

    @extend_schema(responses=DeploymentRequestSerializer)
    def post(self, request, pk):
        self.get_scoped(pk)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        answer = services.approve(pk, request.user, serializer.validated_data["comment"])
        return Response(request_body(answer))


class RejectView(GateView):
    serializer_class = CommentSerializer

    @extend_schema(responses=DeploymentRequestSerializer)
    def post(self, request, pk):
        self.get_scoped(pk)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # "A rejection needs a comment" is ``Approval.clean``'s rule, run by the service
        # (a 400 naming ``comment``), as for the board's page and the admin.
        answer = services.reject(pk, request.user, serializer.validated_data["comment"])
        return Response(request_body(answer))


class DeployedView(GateView):
    """The pipeline shipped: record the deployment (201 the first time, 200 after)."""

    serializer_class = NoteSerializer

    @extend_schema(responses={201: DeploymentRequestSerializer, 200: DeploymentRequestSerializer})
    def post(self, request, pk):
        self.get_scoped(pk)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        answer, created = services.mark_deployed(
            pk, request.user, serializer.validated_data["note"]
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(request_body(answer), status=code)


class FailedView(GateView):
    """The rollout of an approved request failed (409 on any other request, naming its
    status; reporting failed again answers the same)."""

    serializer_class = NoteSerializer

    @extend_schema(responses=DeploymentRequestSerializer)
    def post(self, request, pk):
        self.get_scoped(pk)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        answer = services.mark_failed(pk, request.user, serializer.validated_data["note"])
        return Response(request_body(answer))
