"""Evaluation results from CI/CD: ``/api/model-versions/{id}/evaluations`` takes JSON
or JUnit XML; ``/api/evaluations/`` lists what the caller may see."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.api.base import ScopedModelViewSet
from accounts.permissions import TokenScopePermission, may, scope_queryset
from config.api import OutsideRequestTransaction, Pagination, problem
from config.parsers import StrictJSONParser
from registry.models import MLModel, ModelVersion
from risk.api.serializers import EvaluationSerializer
from risk.choices import EvaluationKind
from risk.filtersets import EvaluationFilter
from risk.junit import JUnitError, parse_junit
from risk.models import Evaluation
from risk.reports import store_report

PROPERTY_FIELDS = {
    "kind": "kind",
    "hypothesis": "hypothesis",
    "success_criterion": "success_criterion",
    "success-criterion": "success_criterion",
    "criterion": "success_criterion",
    "evidence_url": "evidence_url",
    "evidence": "evidence_url",
    "run_reference": "run_reference",
    "run": "run_reference",
    "reviewer": "reviewer",
}
QUERY_FIELDS = ("kind", "hypothesis", "success_criterion", "evidence_url", "run_reference")


class _RawXMLParser(BaseParser):
    """Hands the body over unparsed (bounded in size); ``risk.junit`` parses it safely."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise DRFValidationError({"body": [f"The report is larger than {limit} bytes."]})
        return data


class JUnitXMLParser(_RawXMLParser):
    media_type = "application/xml"


class JUnitTextXMLParser(_RawXMLParser):
    media_type = "text/xml"


class _CaseError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _metric_value(raw: str):
    try:
        return float(raw)
    except ValueError:
        return raw


class ModelVersionEvaluationsView(OutsideRequestTransaction, generics.GenericAPIView):
    """GET: the version's evaluations. POST: record results, as JSON (one object or a
    list) or as a JUnit XML report (``Content-Type: application/xml``): one evaluation
    per test case. For XML, the kind and the other fields come from ``<property>``
    elements of the test case, then of its suites, then from the query string
    (``?kind=adversarial&run_reference=...``); ``metric.NAME`` properties become metrics.

    A report or a list is all or nothing, stored in one insert with one audit event
    (``risk.reports``); the answer is rendered after that short transaction committed.
    """

    parser_classes = [StrictJSONParser, JUnitXMLParser, JUnitTextXMLParser]
    queryset = Evaluation.objects.none()  # the schema's model; rows come from get_version
    permission_classes = [IsAuthenticated, TokenScopePermission]
    serializer_class = EvaluationSerializer
    pagination_class = Pagination

    def get_version(self) -> ModelVersion:
        versions = ModelVersion.objects.select_related("model", "model__team")
        return get_object_or_404(
            scope_queryset(versions, self.request.user, "model", MLModel), pk=self.kwargs["pk"]
        )

    def check_writer(self, version: ModelVersion) -> None:
        user = self.request.user
        if not may(user, "evaluate", version.model):
            raise PermissionDenied(
                "Posting evaluations takes the ml-engineer or pipeline role in team "
                f"{version.model.team.name!r}."
            )

    @extend_schema(responses=EvaluationSerializer(many=True))
    def get(self, request, pk):
        version = self.get_version()
        rows = (
            Evaluation.objects.filter(model_version=version)
            .select_related("model_version__model", "reviewer", "submitted_by")
            .order_by("-created_at", "-pk")
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request={
            "application/json": EvaluationSerializer,
            "application/xml": {"type": "string", "description": "JUnit XML report"},
        },
        parameters=[OpenApiParameter(name, str) for name in QUERY_FIELDS],
        responses={201: EvaluationSerializer(many=True)},
    )
    def post(self, request, pk):
        version = self.get_version()
        self.check_writer(version)
        if request.content_type.split(";")[0].strip() in ("application/xml", "text/xml"):
            return self._post_junit(request, version)
        data = request.data
        many = isinstance(data, list)
        serializer = self.get_serializer(
            data=data,
            many=many,
            context={**self.get_serializer_context(), "model_version": version},
        )
        serializer.is_valid(raise_exception=True)
        if many:
            built = [serializer.child.build(attrs) for attrs in serializer.validated_data]
            saved = store_report(version, built, source="json")
        else:
            with transaction.atomic():
                saved = serializer.save(model_version=version, submitted_by=request.user)
        body = self.get_serializer(saved, many=many).data
        return Response(body, status=status.HTTP_201_CREATED)

    def _post_junit(self, request, version):
        try:
            cases = parse_junit(request.data)
        except JUnitError as exc:
            return problem(400, str(exc), field="body")
        try:
            evaluations = self._evaluations_from(cases, version)
        except _CaseError as exc:
            return problem(400, exc.message, field=exc.field)
        stored = store_report(version, evaluations, source="junit")
        body = self.get_serializer(stored, many=True).data
        return Response(body, status=status.HTTP_201_CREATED)

    def _evaluations_from(self, cases, version) -> list[Evaluation]:
        """Unsaved, validated evaluations for every test case; nothing is written
        unless every case is valid."""
        query = self.request.query_params
        defaults = {name: query[name] for name in QUERY_FIELDS if query.get(name)}
        users = {}
        evaluations = []
        for index, case in enumerate(cases):
            fields = dict(defaults)
            metrics = {}
            for name, value in case.properties.items():
                if name.startswith("metric."):
                    metrics[name.removeprefix("metric.")] = _metric_value(value)
                elif name in PROPERTY_FIELDS:
                    fields[PROPERTY_FIELDS[name]] = value
            where = f"testcase[{index}] {case.name!r}"
            kind = fields.pop("kind", None)
            if not kind:
                raise _CaseError(
                    "kind",
                    f"{where}: no evaluation kind; pass ?kind= or a "
                    '<property name="kind" value="..."/> in the suite or test case.',
                )
            if kind not in EvaluationKind.values:
                raise _CaseError(
                    "kind",
                    f"{where}: unknown kind {kind!r}; use one of "
                    f"{', '.join(EvaluationKind.values)}.",
                )
            reviewer = None
            reviewer_name = fields.pop("reviewer", None)
            if reviewer_name:
                if reviewer_name not in users:
                    users[reviewer_name] = (
                        get_user_model().objects.filter(username=reviewer_name).first()
                    )
                reviewer = users[reviewer_name]
                if reviewer is None:
                    raise _CaseError("reviewer", f"{where}: no user {reviewer_name!r}.")
            evaluation = Evaluation(
                model_version=version,
                kind=kind,
                name=case.name,
                suite=case.suite,
                outcome=case.outcome,
                message=case.message,
                duration_seconds=case.duration_seconds,
                metrics=metrics,
                reviewer=reviewer,
                submitted_by=self.request.user,
                **fields,
            )
            try:
                # The related rows were just loaded (and scoped): skip re-querying each one.
                evaluation.full_clean(exclude=["model_version", "submitted_by", "reviewer"])
            except DjangoValidationError as exc:
                field, messages = next(iter(exc.message_dict.items()))
                raise _CaseError(field, f"{where}: {messages[0]}")
            evaluations.append(evaluation)
        return evaluations


class EvaluationViewSet(ScopedModelViewSet):
    """Every evaluation the caller may see (by the version's model); read-only here."""

    http_method_names = ["get", "head", "options"]
    queryset = Evaluation.objects.select_related(
        "model_version__model", "reviewer", "submitted_by"
    ).order_by("-created_at", "-pk")
    serializer_class = EvaluationSerializer
    filterset_class = EvaluationFilter
    scope_path = "model_version__model"
    scope_model = MLModel
    search_fields = ["name", "suite", "hypothesis"]
