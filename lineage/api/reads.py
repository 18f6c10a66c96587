"""Marquez-style reads (/api/v1/...) and govreg's directed lineage queries (/api/lineage/...).

Any signed-in user may read lineage. Names may hold '/', ':' and other
characters: routes use ``path`` converters, so a percent-encoded name
(``data%2Ftrain.csv``) arrives decoded and still matches.
"""

from __future__ import annotations

from datetime import UTC

from django.db.models import OuterRef, Q, Subquery
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import TokenScopePermission
from config.api import MarquezPagination, filtered, int_query_param
from config.errors import BadParameter
from lineage import graph
from lineage.api import shapes
from lineage.filtersets import LineageEventFilter
from lineage.models import Dataset, DatasetVersion, Job, LineageEvent, Namespace, Run
from lineage.queue import catch_up

MAX_LIMIT = 1000
PAGE = [
    OpenApiParameter("limit", OpenApiTypes.INT, description="page size (default 100)"),
    OpenApiParameter("offset", OpenApiTypes.INT),
]
NODE = [
    OpenApiParameter(
        "nodeId", OpenApiTypes.STR, required=True,
        description="dataset:NS:NAME, job:NS:NAME, datasetVersion:NS:NAME:VERSION or (directed "
        "queries) datasetField:NS:NAME:FIELD",
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
    try:
        # parse_* answer None for a malformed value and raise ValueError for an
        # impossible one (2026-02-30, month 13)
        moment = parse_datetime(raw.replace(" ", "+"))
        if moment is None and parse_date(raw):
            moment = parse_datetime(raw + "T00:00:00")
    except ValueError:
        moment = None
    if moment is None:
        raise BadParameter("must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z", field=name)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class LineageReadView(APIView):
    """Bad query parameters (``BadParameter``) are 400 naming the parameter and unknown
    nodes (``graph.NodeNotFound``) 404, both answered by ``config.api``'s handler."""

    permission_classes = [IsAuthenticated, TokenScopePermission]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        catch_up()  # queued projection: nobody reads behind the events already stored

    def page(self, request, queryset):
        return MarquezPagination("results", max_limit=MAX_LIMIT).paginate(request, queryset)


class NamespaceListView(LineageReadView):
    @read_doc
    def get(self, request):
        queryset = Namespace.objects.filter(deleted_at__isnull=True).order_by("name")
        rows, total = self.page(request, queryset)
        return Response({"namespaces": [shapes.namespace(ns) for ns in rows], "totalCount": total})


def sort_direction(request, default: str) -> str:
    """Marquez's ``sortDirection``: ``asc`` or ``desc`` (any case)."""
    value = (request.query_params.get("sortDirection") or default).lower()
    if value not in ("asc", "desc"):
        raise BadParameter("must be asc or desc", field="sortDirection")
    return value


class LineageEventListView(LineageReadView):
    """GET the raw events as Marquez's /api/v1/events/lineage: ``before`` and ``after``
    bound the event time, ``sortDirection`` ``desc`` (newest first, the default) or
    ``asc``; ``limit`` and ``offset`` out of range are brought into range."""

    pages = MarquezPagination("events", max_limit=MAX_LIMIT)

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("before", OpenApiTypes.DATETIME),
            OpenApiParameter("after", OpenApiTypes.DATETIME),
            OpenApiParameter("sortDirection", OpenApiTypes.STR, enum=["asc", "desc"]),
            *PAGE,
        ],
    )
    def get(self, request):
        queryset = filtered(LineageEventFilter, request, LineageEvent.objects.all())
        order = ("event_time", "pk") if sort_direction(request, "desc") == "asc" else None
        events, total = self.pages.paginate(
            request,
            queryset.order_by(*(order or ("-event_time", "-pk"))).values_list("body", flat=True),
            clamp=True,
        )
        return Response({"events": events, "totalCount": total})


class SearchView(LineageReadView):
    """Datasets and jobs whose name contains ``q`` (Marquez's /api/v1/search): ``filter``
    DATASET or JOB, ``sort`` NAME or UPDATE_AT (also spelt ``name``, ``updated_at``; the
    default), ``sortDirection`` asc or desc (default: names ascending, updates newest
    first), ``namespace``, ``before`` and ``after`` (dates, on the last update)."""

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True),
            OpenApiParameter("filter", OpenApiTypes.STR, enum=["DATASET", "JOB"]),
            OpenApiParameter("sort", OpenApiTypes.STR, enum=["NAME", "UPDATE_AT"]),
            OpenApiParameter("sortDirection", OpenApiTypes.STR, enum=["asc", "desc"]),
            OpenApiParameter("namespace", OpenApiTypes.STR),
            OpenApiParameter("before", OpenApiTypes.DATE),
            OpenApiParameter("after", OpenApiTypes.DATE),
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
        sort = (request.query_params.get("sort") or "UPDATE_AT").upper()
        sort = {"UPDATED_AT": "UPDATE_AT"}.get(sort, sort)
        if sort not in ("NAME", "UPDATE_AT"):
            raise BadParameter("must be NAME or UPDATE_AT", field="sort")
        descending = sort_direction(request, "asc" if sort == "NAME" else "desc") == "desc"
        namespace = request.query_params.get("namespace")
        before, after = time_param(request, "before"), time_param(request, "after")
        field = "name" if sort == "NAME" else "updated_at"
        order = ("-" if descending else "") + field
        results = []
        for node_type, model, node_id in (
            ("DATASET", Dataset, graph.dataset_node_id),
            ("JOB", Job, graph.job_node_id),
        ):
            if kind and kind != node_type:
                continue
            rows = model.objects.filter(
                Q(name__icontains=q) | Q(namespace__name__icontains=q), deleted_at__isnull=True
            )
            if namespace:
                rows = rows.filter(namespace__name=namespace)
            if before:
                rows = rows.filter(updated_at__lt=before)
            if after:
                rows = rows.filter(updated_at__gt=after)
            rows = rows.select_related("namespace").order_by(order, "pk")[:limit]
            results += [
                {
                    "type": node_type,
                    "name": row.name,
                    "updatedAt": shapes._iso(row.updated_at),
                    "namespace": row.namespace.name,
                    "nodeId": node_id(row),
                    "_key": getattr(row, field),
                }
                for row in rows
            ]
        results.sort(key=lambda r: (r["_key"], r["nodeId"]), reverse=descending)
        results = [{k: v for k, v in r.items() if k != "_key"} for r in results[:limit]]
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
        datasets = list(
            Dataset.objects.filter(pk__in=dataset_ids)
            .select_related("namespace", "current_version")
            .prefetch_related(*shapes.DATASET_PREFETCH)
        )
        jobs = list(
            Job.objects.filter(pk__in=job_ids).select_related("namespace", "current_version")
        )
        latest = latest_run_per_job(job_ids)
        return Response({"graph": shapes.job_dataset_graph(datasets, jobs, reads, writes, latest)})


def latest_run_per_job(job_ids) -> dict:
    """``{job id: its newest run}``, one query."""
    latest = Run.objects.filter(job_id=OuterRef("job_id")).order_by("-created_at", "-pk")
    rows = Run.objects.filter(
        job_id__in=list(job_ids), pk=Subquery(latest.values("pk")[:1])
    ).select_related(*shapes.RUN_RELATED)
    return {r.job_id: r for r in rows}


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
        if node_id.startswith("datasetField:"):
            from lineage.api.marquez import column_graph

            nodes = column_graph(
                node_id,
                depth=depth,
                upstream=self.direction == "upstream",
                downstream=self.direction == "downstream",
                as_of=as_of,
            )
            return Response(
                {
                    "nodeId": node_id,
                    "direction": self.direction,
                    "depth": depth,
                    "asOf": shapes._iso(as_of),
                    "graph": nodes,
                }
            )
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
