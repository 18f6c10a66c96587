"""Playbooks and incidents with their verbs (acknowledge, contain, resolve, close,
steps, comments, serious, report, not-reportable), scoped by the owning team; the
serious-incident report (Art. 73) as JSON or PDF, and the JSON Schema it follows."""

from django.db.models import Prefetch
from django.http import JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.base import ScopedModelViewSet
from config.schema import ERROR_REF
from playbooks import filtersets
from playbooks import serious_report as reports
from playbooks.api import serializers as s
from playbooks.models import Incident, Playbook, StepCompletion
from playbooks.services import incidents as incident_service
from playbooks.services import linking
from playbooks.services import playbooks as playbook_service
from registry.api.dossier import PDFRenderer, attachment, requested_format
from registry.models import MLModel


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

    @extend_schema(responses=s.PlaybookVersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        playbook = self.get_object()
        versions = playbook.versions.select_related("created_by").order_by("-number")
        page = self.paginate_queryset(versions)
        data = s.PlaybookVersionSerializer(page, many=True).data
        return self.get_paginated_response(data)


def incident_links(deployment, risks=None) -> dict:
    """A hand-opened incident on a deployment starts linked to its version and the
    version's training data, like one opened by a signal; plus the risks named."""
    links = {}
    if deployment is not None:
        links = linking.incident_links(
            linking.Links(
                model=deployment.model,
                model_version=deployment.model_version,
                deployment=deployment,
            )
        )
    if risks:
        links["risks"] = list(risks)
    return links


class IncidentViewSet(ScopedModelViewSet):
    """``/api/incidents/``: incidents of the caller's models, with the verbs
    acknowledge, contain, resolve, close, steps/{n}/complete, comments, serious, report,
    not-reportable."""

    scope_path = "model"
    scope_model = MLModel
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_class = filtersets.IncidentFilter
    search_fields = ["title", "description"]
    ordering_fields = ["opened_at", "severity", "status"]

    def get_queryset(self):
        if self.action == "download_report":  # what the report reads, and no more
            return Incident.objects.select_related(
                "model__team", "model_version", "deployment__environment", "review"
            )
        queryset = Incident.objects.select_related(
            "model__team",
            "model_version",
            "playbook_version",
            "acknowledged_by",
            "contained_by",
            "not_reportable_by",
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
            links=incident_links(data.get("deployment"), data.get("risks")),
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

    @extend_schema(request=s.NoteSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        data = self._note(request)
        return self._respond(incident_service.acknowledge(self.get_object(), request.user, **data))

    @extend_schema(request=s.ContainSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def contain(self, request, pk=None):
        data = self._note(request, s.ContainSerializer)
        return self._respond(incident_service.contain(self.get_object(), request.user, **data))

    @extend_schema(request=s.NoteSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        data = self._note(request)
        return self._respond(incident_service.resolve(self.get_object(), request.user, **data))

    @extend_schema(request=s.NoteSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        data = self._note(request)
        return self._respond(incident_service.close(self.get_object(), request.user, **data))

    @extend_schema(request=s.NoteSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"], url_path=r"steps/(?P<step>\d+)/complete")
    def complete_step(self, request, pk=None, step=None):
        data = self._note(request)
        incident = self.get_object()
        incident_service.complete_step(incident, int(step), request.user, **data)
        return self._respond(incident)

    @extend_schema(methods=["GET"], responses=s.TimelineEntrySerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=inline_serializer("IncidentComment", {"text": serializers.CharField()}),
        responses={201: s.TimelineEntrySerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
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

    @extend_schema(request=s.SeriousSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def serious(self, request, pk=None):
        body = s.SeriousSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = incident_service.mark_serious(
            self.get_object(),
            request.user,
            category=body.validated_data["category"],
            aware_at=body.validated_data.get("aware_at"),
            reason=body.validated_data["reason"],
        )
        return self._respond(incident)

    def get_renderers(self):
        if self.action == "download_report":
            return [JSONRenderer(), PDFRenderer()]
        return super().get_renderers()

    def perform_content_negotiation(self, request, force=False):
        # ``?format=`` names the report's format: an unknown one is a 400 naming
        # ``format``, not DRF's 404 for a format it has no renderer for.
        if self.action == "download_report":
            requested_format(request, reports.FORMATS)
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        operation_id="incidents_report_create",
        summary="Mark the serious-incident report sent",
        description="Records when the Art. 73 report reached the market surveillance "
        "authority (reported_at, default now); the reporting clock stops. Once only.",
        request=s.ReportSerializer,
        responses=s.IncidentDetailSerializer,
    )
    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        body = s.ReportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = incident_service.record_report(
            self.get_object(), request.user, reported_at=body.validated_data.get("reported_at")
        )
        return self._respond(incident)

    @extend_schema(
        operation_id="incidents_report_retrieve",
        summary="Download the serious-incident report",
        description="The Art. 73 report of a serious incident: provider and contact point, "
        "the AI system and its EU database registration id, version and deployment, dates of "
        "the incident and of awareness, harm category, Member States and persons affected, "
        "causal link, immediate actions, root cause and corrective actions, other regimes "
        "notified; initial until the post-incident review is completed, then complete. "
        "JSON follows /api/schemas/serious-incident-report.json; format=pdf answers "
        "application/pdf. Each download is an audit event (incident.report_exported). "
        "409 naming serious_category for an incident not marked serious.",
        parameters=[
            OpenApiParameter("format", str, enum=list(reports.FORMATS), description="json"),
        ],
        request=None,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The report (JSON, or the PDF with format=pdf).",
            ),
            409: OpenApiResponse(ERROR_REF, description="The incident is not marked serious."),
        },
    )
    @report.mapping.get
    def download_report(self, request, pk=None):
        fmt = requested_format(request, reports.FORMATS)
        incident = self.get_object()
        report = reports.build_report(incident)
        reports.record_download(incident, fmt=fmt, report=report)
        if fmt == "pdf":
            return attachment(
                reports.render_pdf(report),
                "application/pdf",
                f"incident-{incident.pk}-serious-report-{report['report_type']}.pdf",
            )
        return Response(report)

    @extend_schema(request=s.NotReportableSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"], url_path="not-reportable")
    def not_reportable(self, request, pk=None):
        """Determine a serious incident not reportable, with the reason: a
        change-report-deadline decision (approver role and approve right on the model)."""
        body = s.NotReportableSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = incident_service.determine_not_reportable(
            self.get_object(), request.user, reason=body.validated_data["reason"]
        )
        return self._respond(incident)


class SeriousReportSchemaView(APIView):
    """The JSON Schema every serious-incident report's JSON follows; public (it holds
    no record)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        operation_id="schemas_serious_incident_report",
        responses={(200, "application/schema+json"): OpenApiTypes.OBJECT},
    )
    def get(self, request):
        return JsonResponse(reports.report_schema(), content_type="application/schema+json")
