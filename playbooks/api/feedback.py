"""Feedback reports and incident notices over the API.

- ``POST /api/models/{name}/feedback``: an operator or an integrated product (a token
  of someone who sees the model) sends a report; rate-limited per client address
  (``GOVREG_RATE_FEEDBACK``). The answer holds the reference and the status URL.
- ``/api/feedback/``: the reports on the caller's models; ``.../{id}/reply`` and
  ``.../{id}/status`` for the model's team.
- ``/api/incidents/{id}/notice``: the incident's public notice (GET, PUT), and
  ``.../notice/publish``, ``.../notice/withdraw``.
"""

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import (
    ObjectPermissionFilter,
    TokenScopePermission,
    may,
    scope_queryset,
    visible,
)
from config.api import FilterBackend
from config.throttling import AnonymousThrottle, FeedbackThrottle
from playbooks.api.serializers.feedback import (
    FeedbackReceiptSerializer,
    FeedbackReplySerializer,
    FeedbackReportSerializer,
    FeedbackStatusSerializer,
    FeedbackSubmitSerializer,
    IncidentNoticeSerializer,
    ReasonSerializer,
)
from playbooks.choices import FeedbackChannel
from playbooks.models import FeedbackReport, Incident, IncidentNotice
from playbooks.services import feedback, notices
from registry.models import Environment, MLModel

TEAM_ONLY = "Only the model's team answers its feedback."


class ModelFeedbackView(APIView):
    """``POST /api/models/{name}/feedback``: a report about a model in use."""

    permission_classes = [IsAuthenticated, TokenScopePermission]
    throttle_classes = [AnonymousThrottle, FeedbackThrottle]

    @extend_schema(request=FeedbackSubmitSerializer, responses={201: FeedbackReceiptSerializer})
    def post(self, request, name):
        model = visible(MLModel.objects.select_related("team"), request.user).filter(name=name)
        model = model.first()
        if model is None:
            raise Http404
        if not may(request.user, "send-feedback", model):
            raise PermissionDenied(
                "Sending feedback needs the model's team or an integrated product's "
                "pipeline account."
            )
        body = FeedbackSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        environment = Environment.objects.filter(name=data["environment"]).first()
        if environment is None:
            names = ", ".join(Environment.objects.order_by("order").values_list("name", flat=True))
            raise ValidationError({"environment": [f"No such environment; use one of {names}."]})
        submitted = feedback.submit(
            model,
            environment,
            text=data["text"],
            category=data["category"],
            channel=FeedbackChannel.API,
            user=request.user,
            flagged=data["critical"],
        )
        url = request.build_absolute_uri(
            reverse("feedback-status", kwargs={"token": submitted.token})
        )
        report = FeedbackReport.objects.select_related(*_RELATED).get(pk=submitted.report.pk)
        answer = FeedbackReceiptSerializer(report, context={"status_url": url})
        return Response(answer.data, status=status.HTTP_201_CREATED)


_RELATED = ("model", "environment", "model_version", "submitted_by", "replied_by", "signal")


class FeedbackViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """``/api/feedback/``: reports on the caller's models (global readers see all)."""

    queryset = FeedbackReport.objects.select_related(*_RELATED).order_by("-received_at", "-pk")
    serializer_class = FeedbackReportSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission]
    filter_backends = [ObjectPermissionFilter, FilterBackend]
    scope_path = "model"
    scope_model = MLModel
    filterset_fields = ["model", "status", "category", "channel"]

    def _team_report(self):
        report = self.get_object()
        if not may(self.request.user, "change", report.model):
            raise PermissionDenied(TEAM_ONLY)
        return report

    @extend_schema(request=FeedbackReplySerializer, responses=FeedbackReportSerializer)
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        """The team's public reply, shown on the reporter's status page."""
        report = self._team_report()
        body = FeedbackReplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = feedback.reply(
            report,
            request.user,
            text=body.validated_data["reply"],
            status=body.validated_data["status"],
        )
        return Response(FeedbackReportSerializer(self.get_queryset().get(pk=report.pk)).data)

    @extend_schema(request=FeedbackStatusSerializer, responses=FeedbackReportSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        report = self._team_report()
        body = FeedbackStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = feedback.set_status(report, request.user, status=body.validated_data["status"])
        return Response(FeedbackReportSerializer(self.get_queryset().get(pk=report.pk)).data)


class _IncidentNoticeBase(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]

    def incident(self, pk) -> Incident:
        scoped = scope_queryset(Incident.objects.select_related("model"), self.request.user,
                                "model", MLModel)  # fmt: skip
        incident = scoped.filter(pk=pk).first()
        if incident is None:
            raise Http404
        return incident


class IncidentNoticeView(_IncidentNoticeBase):
    """``/api/incidents/{id}/notice``: read or write the incident's public notice (a
    write leaves it a draft; publishing is its own act)."""

    @extend_schema(responses=IncidentNoticeSerializer)
    def get(self, request, pk):
        incident = self.incident(pk)
        notice = IncidentNotice.objects.filter(incident=incident).first()
        if notice is None:
            raise Http404
        return Response(IncidentNoticeSerializer(notice).data)

    @extend_schema(request=IncidentNoticeSerializer, responses=IncidentNoticeSerializer)
    def put(self, request, pk):
        incident = self.incident(pk)
        current = IncidentNotice.objects.filter(incident=incident).first()
        body = IncidentNoticeSerializer(current, data=request.data)
        body.is_valid(raise_exception=True)
        notice = notices.save_notice(incident, request.user, **body.validated_data)
        return Response(IncidentNoticeSerializer(notice).data)


class IncidentNoticePublishView(_IncidentNoticeBase):
    @extend_schema(request=None, responses=IncidentNoticeSerializer)
    def post(self, request, pk):
        notice = notices.publish_notice(self.incident(pk), request.user)
        return Response(IncidentNoticeSerializer(notice).data)


class IncidentNoticeWithdrawView(_IncidentNoticeBase):
    @extend_schema(request=ReasonSerializer, responses=IncidentNoticeSerializer)
    def post(self, request, pk):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        notice = notices.withdraw_notice(
            self.incident(pk), request.user, reason=body.validated_data["reason"]
        )
        return Response(IncidentNoticeSerializer(notice).data)
