"""The catalog API: models, versions, features, environments, deployments, impact.

Every list and detail is scoped by ``ScopedModelViewSet``: a record under
another team's model is a 404. Changes of state go through ``registry.services``.
"""

from django.db import transaction
from django.db.models import Prefetch, ProtectedError
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, DjangoModelPermissions, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.base import ScopedModelViewSet
from accounts.permissions import TokenScopePermission, may, scope_queryset
from config.api import Pagination
from config.errors import BadParameter, Conflict, Missing
from lineage.models import DatasetVersion
from registry import services
from registry.api.scoped import ScopedRead
from registry.api.serializers import (
    DeploymentSerializer,
    EndDeploymentSerializer,
    EnvironmentSerializer,
    FeatureSerializer,
    FeatureVersionSerializer,
    ImpactSerializer,
    MLModelDetailSerializer,
    MLModelSerializer,
    ModelLiveSerializer,
    ModelVersionDetailSerializer,
    ModelVersionSerializer,
    RollbackSerializer,
    VersionLineageSerializer,
    VersionStatusSerializer,
)
from registry.choices import DeploymentState
from registry.filtersets import (
    DeploymentFilter,
    FeatureFilter,
    FeatureVersionFilter,
    MLModelFilter,
    ModelVersionFilter,
)
from registry.gate import services as gate
from registry.gate.serializers import DeploymentRequestSerializer
from registry.models import (
    Deployment,
    Environment,
    Feature,
    FeatureVersion,
    MLModel,
    ModelVersion,
)


class _RefuseProtectedDelete:
    """Deleting a record others point at is a 409 naming why, never a 500."""

    def perform_destroy(self, instance):
        try:
            super().perform_destroy(instance)
        except ProtectedError as exc:
            names = sorted({type(obj)._meta.verbose_name for obj in exc.protected_objects})
            raise Conflict(f"{instance} is still referenced by: {', '.join(names)}.")


# Services raise Django's ValidationError; config.api's exception handler answers it as a
# 400 naming the field, and the request's transaction rolls back.


class MLModelViewSet(_RefuseProtectedDelete, ScopedModelViewSet):
    """Models, scoped to the teams the caller belongs to (global roles see all)."""

    queryset = MLModel.objects.select_related("team").order_by("name")
    serializer_class = MLModelSerializer
    filterset_class = MLModelFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "risk_tier", "created_at"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("versions", queryset=ModelVersion.objects.order_by("-created_at", "-pk")),
                Prefetch(
                    "deployments",
                    queryset=services.live_deployments_queryset(),
                    to_attr="live_deployments",
                ),
            )
        return queryset

    def get_serializer_class(self):
        return MLModelDetailSerializer if self.action == "retrieve" else MLModelSerializer

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        serializer.instance = services.register_model(**serializer.validated_data)

    @extend_schema(responses=ModelLiveSerializer)
    @action(detail=True, methods=["get"])
    def live(self, request, pk=None):
        """What serves now in each environment: one entry per environment, null when none."""
        model = self.get_object()
        live = {d.environment_id: d for d in services.live_deployments(model)}
        environments = [
            {"environment": environment, "deployment": live.get(environment.pk)}
            for environment in Environment.objects.order_by("order")
        ]
        return Response(ModelLiveSerializer({"model": model, "environments": environments}).data)

    @extend_schema(
        request=RollbackSerializer,
        responses={
            201: DeploymentSerializer,
            202: OpenApiResponse(
                DeploymentRequestSerializer, description="the rollback request the gate judges"
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        """Put back the version that served before the live one in ``environment``.

        An unprotected environment deploys it at once (201, the deployment). A
        protected one (production) takes it only through the gate: the answer is 202
        with the rollback request (a new one, or the open one for that version), which
        approvers decide and the pipeline reports deployed like any other."""
        model = self.get_object()
        body = RollbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        environment, note = body.validated_data["environment"], body.validated_data["note"]
        if environment.protected:
            _, version = services.rollback_target(model, environment)
            deployment_request, _ = gate.request_rollback(
                model_version=version,
                environment=environment,
                user=request.user,
                new=body.validated_data["new"],
                note=note,
            )
            return Response(
                DeploymentRequestSerializer(deployment_request).data,
                status=status.HTTP_202_ACCEPTED,
            )
        deployment = services.rollback(model, environment, request.user, note=note)
        return Response(
            DeploymentSerializer(deployment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class _OutsideRequestTransaction:
    """A viewset whose reads (GET, HEAD, OPTIONS), and the writes it names in
    ``one_statement_actions``, run outside the request transaction; its other writes
    run in one of their own, as ``ATOMIC_REQUESTS`` runs them.

    A read writes nothing and, at PostgreSQL's READ COMMITTED, each of its statements
    sees its own snapshot inside a transaction or out: the BEGIN and COMMIT around it
    were a third of "what is live"'s round trips. A write that is one statement (a
    registration: the version and its audit event, ``audit.tracking.create_tracked``)
    is atomic on its own. An error answer outside the request transaction is given in
    an atomic block of its own (as ``config.api.OutsideRequestTransaction`` does),
    because DRF marks the innermost block for rollback when it answers an error."""

    one_statement_actions: tuple[str, ...] = ()

    def _outside(self, method: str) -> bool:
        return (
            method in SAFE_METHODS
            or self.action_map.get(method.lower()) in self.one_statement_actions
        )

    @method_decorator(transaction.non_atomic_requests)
    def dispatch(self, request, *args, **kwargs):
        if self._outside(request.method):
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            return super().dispatch(request, *args, **kwargs)

    def handle_exception(self, exc):
        if not self._outside(self.request.method):
            return super().handle_exception(exc)
        with transaction.atomic():
            return super().handle_exception(exc)


class ModelVersionViewSet(_OutsideRequestTransaction, _RefuseProtectedDelete, ScopedModelViewSet):
    """Versions of the models the caller may see. Registration names the training run;
    the training data is read from lineage (``/lineage`` for the whole upstream)."""

    queryset = ModelVersion.objects.select_related(
        "model__team", "registered_by", "training_run__job__namespace"
    ).order_by("model__name", "-created_at", "-pk")
    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilter
    search_fields = ["version", "model__name", "description", "code_commit"]
    ordering_fields = ["created_at", "version", "status"]
    scope_path = "model"
    scope_model = MLModel
    one_statement_actions = ("create",)  # the version and its audit event (on PostgreSQL)
    # A registered version stays on record (approvals and audits point at it): retire it.
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_serializer_class(self):
        if self.action == "retrieve":
            return ModelVersionDetailSerializer
        return ModelVersionSerializer

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        data = dict(serializer.validated_data)
        serializer.instance = services.register_version(registered_by=self.request.user, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        new_status = data.pop("status", None)
        instance = serializer.instance
        if new_status is not None and new_status != instance.status:
            services.change_version_status(instance, new_status)
            instance.refresh_from_db()
        if data:
            for name, value in data.items():
                setattr(instance, name, value)
            instance.full_clean()
            instance.save(update_fields=[*data, "updated_at"])

    @extend_schema(request=VersionStatusSerializer, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        """Move the version along registered -> validated -> deprecated -> retired."""
        version = self.get_object()
        body = VersionStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = services.change_version_status(
            version, body.validated_data["status"], reason=body.validated_data["reason"]
        )
        version = self.get_queryset().get(pk=version.pk)
        return Response(ModelVersionSerializer(version, context={"request": request}).data)

    @extend_schema(responses=VersionLineageSerializer)
    @action(detail=True, methods=["get"])
    def lineage(self, request, pk=None):
        """The version's full upstream: every dataset version with its hash and status,
        and the runs and jobs that made them."""
        version = self.get_object()
        verdict = services.training_data_verdict(version)
        runs = services.upstream_runs(version, verdict.dataset_versions)
        jobs = sorted(
            {(r.job.namespace.name, r.job.name): r.job for r in runs}.items(), key=lambda i: i[0]
        )
        answer = {
            "version": version,
            "verdict": verdict,
            "runs": runs,
            "jobs": [job for _, job in jobs],
        }
        return Response(VersionLineageSerializer(answer).data)


class FeatureViewSet(_RefuseProtectedDelete, ScopedModelViewSet):
    """Features, owned by teams like models are."""

    queryset = Feature.objects.select_related("team").order_by("name")
    serializer_class = FeatureSerializer
    filterset_class = FeatureFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at"]

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        serializer.instance = services.register_feature(**serializer.validated_data)


class FeatureVersionViewSet(_RefuseProtectedDelete, ScopedModelViewSet):
    """Definitions of features with the dataset versions they were computed from."""

    queryset = (
        FeatureVersion.objects.select_related("feature__team", "created_by")
        .prefetch_related(
            Prefetch(
                "source_dataset_versions",
                queryset=DatasetVersion.objects.select_related("dataset__namespace").order_by("pk"),
            )
        )
        .order_by("feature__name", "-created_at", "-pk")
    )
    serializer_class = FeatureVersionSerializer
    filterset_class = FeatureVersionFilter
    search_fields = ["version", "feature__name", "definition"]
    ordering_fields = ["created_at", "version"]
    scope_path = "feature"
    scope_model = Feature
    # A definition, once recorded, is what models were built with: change means a new version.
    http_method_names = ["get", "post", "head", "options"]

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        serializer.instance = services.add_feature_version(
            created_by=self.request.user, **serializer.validated_data
        )


class EnvironmentViewSet(_RefuseProtectedDelete, viewsets.ModelViewSet):
    """Environments are shared: everyone signed in reads them; changing them needs the
    model permission (administrators)."""

    queryset = Environment.objects.order_by("order")
    serializer_class = EnvironmentSerializer
    permission_classes = [IsAuthenticated, TokenScopePermission, DjangoModelPermissions]
    filterset_fields = ["protected", "name"]


DEPLOYMENTS = Deployment.objects.select_related(
    "model", "model_version", "environment", "deployed_by", "deployment_request"
).order_by("-deployed_at", "-pk")
# The query string of "what serves now": what a pipeline asks before every release.
LIVE_QUERY = frozenset({"live", "environment", "model"})


def _live_read(user, model: str, environment: str):
    """``?live=true&environment=E&model=M``: as the list's filters read it (the scoping
    of ``ObjectPermissionFilter``, then ``DeploymentFilter``'s model, environment and
    live), one page and the row past it."""
    scoped = scope_queryset(DEPLOYMENTS.all(), user, "model", MLModel)
    found = scoped.filter(
        model__name=model, environment__name=environment, state=DeploymentState.LIVE
    )
    return found[: Pagination.default_limit + 1]


LIVE_READ = ScopedRead(
    _live_read,
    questions=("registry.view_deployment", "registry.view_mlmodel"),
    model=str,
    environment=str,
)


class DeploymentViewSet(_OutsideRequestTransaction, ScopedModelViewSet):
    """Deployment history, newest first; ``?live=true&environment=production`` is what
    serves there now. Posting one reports a deployment to an unprotected environment;
    protected ones (production) are deployed through an approved deployment request."""

    queryset = DEPLOYMENTS
    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilter
    ordering_fields = ["deployed_at", "ended_at"]
    scope_path = "model"
    scope_model = MLModel
    http_method_names = ["get", "post", "head", "options"]

    def list(self, request, *args, **kwargs):
        """``?live=true&environment=E&model=M`` (exactly these, plain values) is read by a
        statement compiled once (``LIVE_READ``); any other query string through the
        filters. Both give the same rows, page and shape."""
        rows = self._live_rows(request)
        if rows is None:
            return super().list(request, *args, **kwargs)
        paginator = self.paginator
        if not isinstance(paginator, Pagination):
            return super().list(request, *args, **kwargs)
        paginator.request = request
        paginator.limit, paginator.offset = paginator.get_limit(request), 0
        if paginator.limit != Pagination.default_limit or len(rows) > paginator.limit:
            return super().list(request, *args, **kwargs)  # more than a page: counted there
        paginator.count = len(rows)
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    def _live_rows(self, request):
        params = request.query_params
        if set(params) != LIVE_QUERY or any(len(params.getlist(k)) != 1 for k in LIVE_QUERY):
            return None
        model, environment = params["model"], params["environment"]
        plain = all(
            value and value == value.strip() and "\x00" not in value
            for value in (model, environment)
        )
        if params["live"] != "true" or not plain:
            return None
        return LIVE_READ.all(request.user, model=model, environment=environment)

    def perform_create(self, serializer):
        data = serializer.validated_data
        version, environment = data["model_version"], data["environment"]
        if not may(self.request.user, "change", version.model):
            raise PermissionDenied({"model_version": "You may not deploy versions of this model."})
        if environment.protected:
            raise PermissionDenied(
                {
                    "environment": f"{environment.name} is protected: deploy through an "
                    "approved deployment request."
                }
            )
        serializer.instance = services.deploy(
            version, environment, self.request.user, note=data.get("note", "")
        )

    @extend_schema(request=EndDeploymentSerializer, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        """Report that a live deployment failed (or was taken down with nothing to restore)."""
        deployment = self.get_object()
        if not may(request.user, "change", deployment.model):
            raise PermissionDenied("You may see this deployment but not end it.")
        body = EndDeploymentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deployment = services.end_deployment(
            deployment, body.validated_data["state"], reason=body.validated_data["reason"]
        )
        return Response(DeploymentSerializer(deployment, context={"request": request}).data)


class ImpactView(APIView):
    """Which model versions were built (transitively) on a dataset version, and which
    deployments serve one of them now. Only what the caller may see is listed."""

    @extend_schema(
        parameters=[
            OpenApiParameter("namespace", str, required=True),
            OpenApiParameter("name", str, required=True),
            OpenApiParameter("version", str, required=True, description="version or md5:hash"),
        ],
        responses=ImpactSerializer,
    )
    def get(self, request):
        params = {}
        for name in ("namespace", "name", "version"):
            value = request.query_params.get(name, "").strip()
            if not value:
                raise BadParameter("This query parameter is required.", field=name)
            params[name] = value
        candidates = DatasetVersion.objects.select_related("dataset__namespace").filter(
            dataset__namespace__name=params["namespace"], dataset__name=params["name"]
        )
        dv = candidates.filter(version=params["version"]).first() or (
            candidates.filter(content_hash=params["version"]).order_by("pk").first()
        )
        if dv is None:
            raise Missing(
                f"No version {params['version']!r} of {params['namespace']}:{params['name']}.",
                field="version",
            )
        found = services.impact(dv, user=request.user)
        answer = {
            "dataset_version": dv,
            "model_versions": found.model_versions,
            "deployments": found.deployments,
            "feature_versions": found.feature_versions,
        }
        return Response(ImpactSerializer(answer).data)


__all__ = [
    "DeploymentViewSet",
    "EnvironmentViewSet",
    "FeatureVersionViewSet",
    "FeatureViewSet",
    "ImpactView",
    "MLModelViewSet",
    "ModelVersionViewSet",
]
