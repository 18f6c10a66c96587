"""Marquez-style reads (/api/v1/...) and govreg's directed lineage queries (/api/lineage/...).

Any signed-in user may read lineage. Names may hold '/', ':' and other
characters: routes use ``path`` converters, so a percent-encoded name
(``data%2Ftrain.csv``) arrives decoded and still matches.
"""

from __future__ import annotations

from datetime import UTC

from django.db.models import OuterRef, Q, Subquery
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import TokenScopePermission
from config.api import MarquezPagination, int_query_param
from config.errors import BadParameter
from lineage import graph
from lineage.api import shapes
from lineage.models import Dataset, DatasetVersion, Job, Namespace, Run, RunInput, RunOutput

MAX_LIMIT = 1000
PAGE = [
    OpenApiParameter("limit", OpenApiTypes.INT, description="page size (default 100)"),
    OpenApiParameter("offset", OpenApiTypes.INT),
]
NODE = [
    OpenApiParameter(
        "nodeId", OpenApiTypes.STR, required=True,
        description="dataset:NS:NAME, job:NS:NAME or datasetVersion:NS:NAME:VERSION",
    ),
    OpenApiParameter("depth", OpenApiTypes.INT, description="hops (default 20, at most 50)"),
]  # fmt: skip
read_doc = extend_schema(responses={200: OpenApiTypes.OBJECT}, parameters=PAGE)


def int_param(request, name: str, default: int, *, low: int = 0, high: int = MAX_LIMIT) -> int:
    return int_query_param(request, name, default, low=low, high=high)


def time_param(request, name: str):
    raw = request.query_params.get(name)
    if not raw:
        return None
    moment = parse_datetime(raw.replace(" ", "+"))
    if moment is None and parse_date(raw):
        moment = parse_datetime(raw + "T00:00:00")
    if moment is None:
        raise BadParameter("must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z", field=name)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class LineageReadView(APIView):
    """Bad query parameters (``BadParameter``) are 400 naming the parameter and unknown
    nodes (``graph.NodeNotFound``) 404, both answered by ``config.api``'s handler."""

    permission_classes = [IsAuthenticated, TokenScopePermission]

    def page(self, request, queryset):
        return MarquezPagination("results", max_limit=MAX_LIMIT).paginate(request, queryset)


def _namespace(name: str) -> Namespace:
    return get_object_or_404(Namespace, name=name)


def _current_versions(dataset_ids) -> dict[int, DatasetVersion]:
    latest = (
        DatasetVersion.objects.filter(dataset_id=OuterRef("dataset_id"))
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )
    rows = DatasetVersion.objects.filter(dataset_id__in=list(dataset_ids), pk=Subquery(latest))
    return {v.dataset_id: v for v in rows}


class NamespaceListView(LineageReadView):
    @read_doc
    def get(self, request):
        rows, total = self.page(request, Namespace.objects.order_by("name"))
        return Response({"namespaces": [shapes.namespace(ns) for ns in rows], "totalCount": total})


class NamespaceDetailView(LineageReadView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, namespace):
        return Response(shapes.namespace(_namespace(namespace)))


class DatasetListView(LineageReadView):
    @read_doc
    def get(self, request, namespace):
        ns = _namespace(namespace)
        queryset = Dataset.objects.filter(namespace=ns).select_related("namespace").order_by("name")
        rows, total = self.page(request, queryset)
        current = _current_versions(d.pk for d in rows)
        return Response(
            {"datasets": [shapes.dataset(d, current.get(d.pk)) for d in rows], "totalCount": total}
        )


class DatasetDetailView(LineageReadView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, namespace, name):
        ds = get_object_or_404(
            Dataset.objects.select_related("namespace"), namespace__name=namespace, name=name
        )
        return Response(shapes.dataset(ds, _current_versions([ds.pk]).get(ds.pk)))


class DatasetVersionListView(LineageReadView):
    @read_doc
    def get(self, request, namespace, name):
        ds = get_object_or_404(Dataset, namespace__name=namespace, name=name)
        queryset = DatasetVersion.objects.filter(dataset=ds).select_related(
            "dataset__namespace", "producing_run"
        )
        rows, total = self.page(request, queryset.order_by("-created_at", "-pk"))
        return Response(
            {"versions": [shapes.dataset_version(v) for v in rows], "totalCount": total}
        )


def _job_io(job_ids):
    """``{job id: (inputs, outputs)}`` as dataset rows, two queries for the whole page."""
    reads, writes = graph.job_dataset_edges(job_ids=job_ids)
    dataset_ids = {d for _, d in reads | writes}
    rows = Dataset.objects.filter(pk__in=dataset_ids).select_related("namespace")
    by_pk = {d.pk: d for d in rows}
    result = {j: ([], []) for j in job_ids}
    for j, d in sorted(reads, key=lambda e: by_pk[e[1]].name):
        result[j][0].append(by_pk[d])
    for j, d in sorted(writes, key=lambda e: by_pk[e[1]].name):
        result[j][1].append(by_pk[d])
    return result


def _latest_runs(job_ids) -> dict[int, Run]:
    latest = Run.objects.filter(job_id=OuterRef("job_id")).order_by("-created_at", "-pk")
    rows = Run.objects.filter(job_id__in=list(job_ids), pk=Subquery(latest.values("pk")[:1]))
    return {r.job_id: r for r in rows.select_related("parent")}


class JobListView(LineageReadView):
    @read_doc
    def get(self, request, namespace):
        ns = _namespace(namespace)
        queryset = Job.objects.filter(namespace=ns).select_related("namespace").order_by("name")
        rows, total = self.page(request, queryset)
        ids = [j.pk for j in rows]
        io = _job_io(ids) if ids else {}
        latest = _latest_runs(ids) if ids else {}
        return Response(
            {
                "jobs": [shapes.job(j, *io[j.pk], latest.get(j.pk)) for j in rows],
                "totalCount": total,
            }
        )


class JobDetailView(LineageReadView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, namespace, name):
        jb = get_object_or_404(
            Job.objects.select_related("namespace"), namespace__name=namespace, name=name
        )
        io = _job_io([jb.pk])
        return Response(shapes.job(jb, *io[jb.pk], _latest_runs([jb.pk]).get(jb.pk)))


class JobRunListView(LineageReadView):
    @read_doc
    def get(self, request, namespace, name):
        jb = get_object_or_404(Job, namespace__name=namespace, name=name)
        queryset = Run.objects.filter(job=jb).select_related("parent").order_by("-created_at")
        rows, total = self.page(request, queryset)
        run_ids = [r.pk for r in rows]
        inputs: dict[int, list] = {pk: [] for pk in run_ids}
        outputs: dict[int, list] = {pk: [] for pk in run_ids}
        for model, bucket in ((RunInput, inputs), (RunOutput, outputs)):
            edges = model.objects.filter(run_id__in=run_ids).select_related(
                "dataset_version__dataset__namespace"
            )
            for edge in edges.order_by("pk"):
                bucket[edge.run_id].append(edge.dataset_version)
        return Response(
            {
                "runs": [shapes.run(r, inputs[r.pk], outputs[r.pk]) for r in rows],
                "totalCount": total,
            }
        )


class SearchView(LineageReadView):
    """Datasets and jobs whose name contains ``q`` (Marquez's /api/v1/search)."""

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True),
            OpenApiParameter("filter", OpenApiTypes.STR, enum=["DATASET", "JOB"]),
            OpenApiParameter("limit", OpenApiTypes.INT),
        ],
    )
    def get(self, request):
        q = (request.query_params.get("q") or "").strip()
        if not q:
            raise BadParameter("is required", field="q")
        limit = int_param(request, "limit", 10)
        kind = (request.query_params.get("filter") or "").upper()
        if kind not in ("", "DATASET", "JOB"):
            raise BadParameter("must be DATASET or JOB", field="filter")
        results = []
        for node_type, model, node_id in (
            ("DATASET", Dataset, graph.dataset_node_id),
            ("JOB", Job, graph.job_node_id),
        ):
            if kind and kind != node_type:
                continue
            rows = (
                model.objects.filter(Q(name__icontains=q) | Q(namespace__name__icontains=q))
                .select_related("namespace")
                .order_by("-updated_at")[:limit]
            )
            results += [
                {
                    "type": node_type,
                    "name": row.name,
                    "updatedAt": shapes._iso(row.updated_at),
                    "namespace": row.namespace.name,
                    "nodeId": node_id(row),
                }
                for row in rows
            ]
        results.sort(key=lambda r: r["updatedAt"] or "", reverse=True)
        results = results[:limit]
        return Response({"totalCount": len(results), "results": results})


class LineageGraphView(LineageReadView):
    """Marquez's ``GET /api/v1/lineage?nodeId=...&depth=N``: jobs and datasets both ways."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, parameters=NODE)
    def get(self, request):
        node_id = request.query_params.get("nodeId")
        if not node_id:
            raise BadParameter("is required (dataset:NS:NAME or job:NS:NAME)", field="nodeId")
        depth = int_param(request, "depth", 20, low=1, high=graph.MAX_DEPTH)
        kind, row = graph.resolve_node(node_id)
        if kind == "datasetVersion":
            kind, row = "dataset", row.dataset
        dataset_ids, job_ids, reads, writes = graph.job_dataset_neighbourhood(kind, row, depth)
        datasets = list(Dataset.objects.filter(pk__in=dataset_ids).select_related("namespace"))
        jobs = list(Job.objects.filter(pk__in=job_ids).select_related("namespace"))
        return Response({"graph": shapes.job_dataset_graph(datasets, jobs, reads, writes)})


class DirectedLineageView(LineageReadView):
    """``GET /api/lineage/upstream|downstream?nodeId=...&depth=N&asOf=...`` at version level."""

    direction = "upstream"

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            *NODE,
            OpenApiParameter("asOf", OpenApiTypes.DATETIME, description="the graph at this time"),
        ],
    )
    def get(self, request):
        node_id = request.query_params.get("nodeId")
        if not node_id:
            raise BadParameter(
                "is required (dataset:NS:NAME, job:NS:NAME or datasetVersion:NS:NAME:V)",
                field="nodeId",
            )
        depth = int_param(request, "depth", graph.DEFAULT_DEPTH, low=1, high=graph.MAX_DEPTH)
        as_of = time_param(request, "asOf")
        kind, row = graph.resolve_node(node_id)
        version_ids, run_ids, reads, writes = graph.directed_subgraph(
            kind, row, self.direction, depth=depth, as_of=as_of
        )
        versions = DatasetVersion.objects.filter(pk__in=version_ids).select_related(
            "dataset__namespace", "producing_run"
        )
        runs = Run.objects.filter(pk__in=run_ids).select_related("job__namespace", "parent")
        if as_of is not None:
            versions = versions.filter(created_at__lte=as_of)
            runs = runs.filter(created_at__lte=as_of)
        versions, runs = list(versions), list(runs)
        kept_v = {v.pk for v in versions}
        kept_r = {r.pk for r in runs}
        reads = {(r, v) for r, v in reads if r in kept_r and v in kept_v}
        writes = {(r, v) for r, v in writes if r in kept_r and v in kept_v}
        return Response(
            {
                "nodeId": node_id,
                "direction": self.direction,
                "depth": depth,
                "asOf": shapes._iso(as_of),
                "graph": shapes.version_run_graph(versions, runs, reads, writes),
            }
        )


class UpstreamView(DirectedLineageView):
    direction = "upstream"


class DownstreamView(DirectedLineageView):
    direction = "downstream"
