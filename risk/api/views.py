"""Risk-register API: matrices, risks (with reviews, acceptances and the heatmap),
controls and thresholds. Evaluations are in ``risk.api.evaluations``."""

import math

from django.db import transaction
from django.db.models import Count, Prefetch, ProtectedError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.base import ScopedModelViewSet
from accounts.permissions import ActionPermission, TokenScopePermission, may, scope_queryset
from config.api import valid_filterset
from config.errors import BadParameter, Conflict, Missing
from risk import services
from risk.api.serializers import (
    ControlSerializer,
    DecisionSerializer,
    RecalibrateSerializer,
    ReminderSerializer,
    RequiredEvaluationSerializer,
    RevokeSerializer,
    RiskAcceptanceSerializer,
    RiskHeatmapSerializer,
    RiskMatrixSerializer,
    RiskReviewSerializer,
    RiskSerializer,
    ThresholdClassificationSerializer,
    ThresholdSerializer,
)
from risk.choices import Comparator
from risk.filtersets import (
    ControlFilter,
    RiskAcceptanceFilter,
    RiskFilter,
    RiskHeatmapFilter,
    ThresholdFilter,
)
from risk.models import (
    Control,
    Reminder,
    RequiredEvaluation,
    Risk,
    RiskAcceptance,
    RiskAcceptanceApproval,
    RiskMatrix,
    Threshold,
)


class RefuseProtectedDelete:
    """Deleting a record others point at (a risk with thresholds) is a 409 naming why."""

    def perform_destroy(self, instance):
        try:
            super().perform_destroy(instance)
        except ProtectedError as exc:
            names = sorted({str(type(o)._meta.verbose_name_plural) for o in exc.protected_objects})
            raise Conflict(f"{instance} is still referenced by its {', '.join(names)}.")


class RiskMatrixViewSet(viewsets.ModelViewSet):
    """Risk matrices: their scales and cell levels. Redrawing one re-levels its risks."""

    queryset = RiskMatrix.objects.order_by("-is_default", "name")
    serializer_class = RiskMatrixSerializer
    # everyone signed in reads; only admins change
    permission_classes = [IsAuthenticated, TokenScopePermission, ActionPermission]
    write_permission = ("change", "risk.riskmatrix")
    permission_denied_message = "Only admins change risk matrices."

    def perform_update(self, serializer):
        with transaction.atomic():
            matrix = serializer.save()
            matrix.relevel_risks()

    def perform_destroy(self, instance):
        if instance.risks.exists() or instance.is_default:
            raise PermissionDenied("A matrix in use (or the default one) cannot be deleted.")
        instance.delete()


class RequiredEvaluationViewSet(viewsets.ModelViewSet):
    """Which evaluation kinds each risk tier requires before deploying (admins change them)."""

    queryset = RequiredEvaluation.objects.order_by("risk_tier", "kind")
    serializer_class = RequiredEvaluationSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission, ActionPermission]
    write_permission = ("change", "risk.requiredevaluation")
    permission_denied_message = "Only admins change required evaluations."
    filterset_fields = ["risk_tier", "kind"]


class ReminderViewSet(viewsets.ReadOnlyModelViewSet):
    """Notices sent to owners of risks the caller may see (reviews due, acceptances expiring)."""

    queryset = Reminder.objects.order_by("-created_at", "-pk")
    serializer_class = ReminderSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission]
    filter_backends = ScopedModelViewSet.filter_backends
    filterset_fields = ["risk", "kind", "due_date"]
    scope_path = "risk"
    scope_model = Risk


def _risk_queryset():
    return (
        Risk.objects.select_related("team", "owner", "matrix")
        .prefetch_related(
            "ml_models", "model_versions", "dataset_versions", "features", "deployments"
        )
        .order_by("-created_at", "-pk")
    )


class RiskViewSet(RefuseProtectedDelete, ScopedModelViewSet):
    """Risks, scoped to the owning team (board, auditors and admins see all)."""

    queryset = _risk_queryset()
    serializer_class = RiskSerializer
    filterset_class = RiskFilter
    search_fields = ["title", "description", "hypothesis"]
    ordering_fields = ["created_at", "next_review_date", "residual_level", "title"]

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        data = dict(serializer.validated_data)
        links = {name: data.pop(name) for name in services.RISK_LINKS if name in data}
        serializer.instance = services.create_risk(links=links, **data)

    @extend_schema(request=RiskReviewSerializer, responses=RiskSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Record that the risk was reviewed; the next review moves one cadence on."""
        risk = self.get_object()
        body = RiskReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        risk = services.record_review(risk, request.user, notes=body.validated_data["notes"])
        return Response(self.get_serializer(_risk_queryset().get(pk=risk.pk)).data)

    @extend_schema(methods=["GET"], responses=RiskAcceptanceSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=RiskAcceptanceSerializer,
        responses={201: RiskAcceptanceSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def acceptances(self, request, pk=None):
        """GET: this risk's acceptances. POST: ask to accept the risk until ``expires_at``."""
        risk = self.get_object()
        if request.method == "GET":
            rows = risk.acceptances.select_related("requested_by", "decided_by").prefetch_related(
                "approvals"
            )
            return Response(RiskAcceptanceSerializer(rows, many=True).data)
        body = RiskAcceptanceSerializer(
            data=request.data, context={"request": request, "risk": risk}
        )
        body.is_valid(raise_exception=True)
        acceptance = services.request_acceptance(risk, request.user, **body.validated_data)
        return Response(RiskAcceptanceSerializer(acceptance).data, status=status.HTTP_201_CREATED)


class RiskAcceptanceViewSet(viewsets.ReadOnlyModelViewSet):
    """Acceptances of risks the caller may see; approvers decide on them here."""

    queryset = (
        RiskAcceptance.objects.select_related("risk", "requested_by", "decided_by")
        .prefetch_related(
            Prefetch("approvals", queryset=RiskAcceptanceApproval.objects.order_by("created_at"))
        )
        .order_by("-requested_at", "-pk")
    )
    serializer_class = RiskAcceptanceSerializer
    filterset_class = RiskAcceptanceFilter
    permission_classes = [IsAuthenticated, TokenScopePermission]
    filter_backends = ScopedModelViewSet.filter_backends
    scope_path = "risk"
    scope_model = Risk

    def _decide(self, request, verdict):
        acceptance = self.get_object()
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        acceptance = services.decide_acceptance(
            acceptance, request.user, verdict=verdict, comment=body.validated_data["comment"]
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=acceptance.pk)).data)

    @extend_schema(request=DecisionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve under the accept-risk decision right (approver role, approve right)."""
        return self._decide(request, "approve")

    @extend_schema(request=DecisionSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject the request; the comment says why."""
        return self._decide(request, "reject")

    @extend_schema(request=RevokeSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Withdraw a pending or valid acceptance (owning team or approvers); the risk reopens."""
        acceptance = self.get_object()
        allowed, _ = services.can_decide_acceptance(request.user, acceptance.risk)
        if not (allowed or may(request.user, "change", acceptance.risk)):
            raise PermissionDenied("You may see this acceptance but not revoke it.")
        body = RevokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.revoke_acceptance(acceptance, request.user, reason=body.validated_data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=acceptance.pk)).data)


class ControlViewSet(ScopedModelViewSet):
    """Controls (mitigations) of risks the caller may see; the risk's team edits them."""

    queryset = Control.objects.select_related("risk", "owner").order_by("risk_id", "pk")
    serializer_class = ControlSerializer
    filterset_class = ControlFilter
    scope_path = "risk"
    scope_model = Risk
    search_fields = ["title", "description"]


class ThresholdViewSet(ScopedModelViewSet):
    """Thresholds of risks the caller may see. Values change only by recalibration."""

    queryset = (
        Threshold.objects.select_related("risk", "model_version", "deployment")
        .prefetch_related("recalibrations")
        .order_by("metric", "pk")
    )
    serializer_class = ThresholdSerializer
    filterset_class = ThresholdFilter
    scope_path = "risk"
    scope_model = Risk

    @extend_schema(request=RecalibrateSerializer, responses=ThresholdSerializer)
    @action(detail=True, methods=["post"])
    def recalibrate(self, request, pk=None):
        """Move the warning and critical values; the old ones are kept with who and why."""
        threshold = self.get_object()
        body = RecalibrateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        services.recalibrate_threshold(
            threshold,
            warning=data["warning_value"],
            critical=data["critical_value"],
            user=request.user,
            reason=data["reason"],
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=threshold.pk)).data)

    @extend_schema(
        parameters=[OpenApiParameter("value", float, required=True)],
        responses=ThresholdClassificationSerializer,
    )
    @action(detail=True, methods=["get"])
    def classify(self, request, pk=None):
        """What an observed value means: benign, questionable or critical."""
        threshold = self.get_object()
        raw = request.query_params.get("value")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise BadParameter("Give the observed value as a number.", field="value")
        if not math.isfinite(value):
            raise BadParameter("Give the observed value as a finite number.", field="value")
        answer = {
            "threshold": threshold.pk,
            "metric": threshold.metric,
            "value": value,
            "classification": threshold.classify(value),
            "comparator": Comparator(threshold.comparator).label,
        }
        return Response(ThresholdClassificationSerializer(answer).data)


class RiskHeatmapView(APIView):
    """Counts of risks per matrix cell, inherent and residual.

    Filters: ``team`` (name), ``model`` (name; linked directly, via a version or
    a deployment), ``matrix`` (id; default matrix otherwise), ``status`` (default:
    every status but closed; ``all`` for everything).
    """

    permission_classes = [IsAuthenticated, TokenScopePermission]

    @extend_schema(
        parameters=[
            OpenApiParameter("team", str),
            OpenApiParameter("model", str),
            OpenApiParameter("matrix", int),
            OpenApiParameter("status", str),
        ],
        responses=RiskHeatmapSerializer,
    )
    def get(self, request):
        filters = valid_filterset(RiskHeatmapFilter, request, Risk.objects.none())
        matrix_id = filters.form.cleaned_data.get("matrix")
        if matrix_id is not None:
            matrix = RiskMatrix.objects.filter(pk=matrix_id).first()
            if matrix is None:
                raise Missing(f"No risk matrix {matrix_id}.", field="matrix")
        else:
            matrix = RiskMatrix.default()
            if matrix is None:
                raise Missing("No default risk matrix exists.")
        risks = filters.filter_queryset(
            scope_queryset(Risk.objects.all(), request.user).filter(matrix=matrix)
        )
        heatmap = {"matrix": matrix, "total": 0}
        for prefix in ("inherent", "residual"):
            counts = {
                (row[f"{prefix}_likelihood"], row[f"{prefix}_impact"]): row["n"]
                for row in risks.values(f"{prefix}_likelihood", f"{prefix}_impact")
                .annotate(n=Count("pk"))
                .order_by()
            }
            heatmap[prefix] = [
                {"likelihood": lk, "impact": im, "level": level, "count": counts.get((lk, im), 0)}
                for lk, im, level in matrix.cells()
            ]
            heatmap["total"] = sum(counts.values())
        return Response(RiskHeatmapSerializer(heatmap).data)
