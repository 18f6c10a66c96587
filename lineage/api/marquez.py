"""The rest of Marquez's v1 reads (and its few writes govreg serves), in Marquez's shapes.

``/api/v1/namespaces/...`` paths are resolved here, not by the URL conf alone: names
may hold ``/`` (a percent-encoded ``%2F`` arrives decoded), so a dataset called
``a/versions`` and the versions of a dataset ``a`` read the same. ``resolve`` tries
every way to cut the path into names and picks the one whose records exist, the
longest names first (so a percent-encoded name containing ``/datasets/``,
``/versions``, ``/runs`` or ``/jobs/`` is read as a name). A dataset is also found
by any identifier of its ``symlinks`` facet.

Governance stays govreg's: every read needs a signed-in user (a token), tags are
written by the lineage writers (pipeline, ml-engineer, admin), soft deletes by
admins only, and each write is an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.response import Response

from accounts.permissions import ActionPermission, TokenScopePermission
from config.errors import BadParameter, Missing
from lineage import graph
from lineage.api import shapes
from lineage.api.reads import LineageReadView, int_param
from lineage.models import (
    Dataset,
    DatasetSymlink,
    DatasetVersion,
    Job,
    JobVersion,
    LineageEvent,
    Namespace,
    Run,
    RunInput,
    RunOutput,
    Tag,
)
from lineage.services import lineage_delete, tag_dataset, upsert_tag

PAGE = [
    OpenApiParameter("limit", OpenApiTypes.INT, description="page size (default 100)"),
    OpenApiParameter("offset", OpenApiTypes.INT),
]
VERSION_RELATED = (
    "dataset__namespace",
    *(f"producing_run__{r}" for r in shapes.RUN_RELATED),
)
JOB_RELATED = ("namespace", "current_version")


def live(queryset):
    """Soft-deleted rows are left out of lists (a detail still answers, ``deleted``)."""
    return queryset.filter(deleted_at__isnull=True)


# --- reading /api/v1/namespaces/<path> ---------------------------------------------------


@dataclass
class Route:
    """One way to read a namespaces path: the handler and the names it was cut into."""

    handler: str
    namespace: str
    name: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def weight(self):
        return (len(self.name or ""), len(self.namespace))


_DATASET_TAILS = (("/versions", "dataset_versions"),)
_JOB_TAILS = (("/runs", "job_runs"), ("/versions", "job_versions"))


def _candidates(rest: str) -> list[Route]:
    """Every reading of ``rest`` (the path after ``namespaces/``) the grammar allows."""
    routes = [Route("namespace", rest)]
    for marker, kind in (("/datasets", "dataset"), ("/jobs", "job")):
        start = rest.find(marker)
        while start > 0:
            namespace, after = rest[:start], rest[start + len(marker) :]
            if after == "":
                routes.append(Route(f"{kind}_list", namespace))
            elif after.startswith("/") and len(after) > 1:
                routes += _named(kind, namespace, after[1:])
            start = rest.find(marker, start + 1)
    return routes


def _named(kind: str, namespace: str, tail: str) -> list[Route]:
    routes = [Route(kind, namespace, tail)]
    for suffix, handler in _DATASET_TAILS if kind == "dataset" else _JOB_TAILS:
        if tail.endswith(suffix) and len(tail) > len(suffix):
            routes.append(Route(handler, namespace, tail[: -len(suffix)]))
    marker = "/versions/"
    start = tail.find(marker)
    while start > 0:
        version = tail[start + len(marker) :]
        if version:
            routes.append(Route(f"{kind}_version", namespace, tail[:start], {"version": version}))
        start = tail.find(marker, start + 1)
    if kind == "dataset":
        start = tail.find("/tags/")
        while start > 0:
            tag = tail[start + 6 :]
            name = tail[:start]
            if tag and "/" not in tag:
                routes.append(Route("dataset_tag", namespace, name, {"tag": tag}))
                fields = name.rfind("/fields/")
                if fields > 0 and name[fields + 8 :]:
                    routes.append(
                        Route(
                            "field_tag",
                            namespace,
                            name[:fields],
                            {"tag": tag, "field": name[fields + 8 :]},
                        )
                    )
            start = tail.find("/tags/", start + 1)
    return routes


def resolve(rest: str, method: str = "GET") -> tuple[Route, object, object]:
    """The reading of ``rest`` whose namespace and dataset or job exist, longest names
    first; ``(route, namespace row, dataset or job row)``. Raises ``Missing``."""
    writes = {"dataset_tag", "field_tag"}
    routes = [
        r for r in _candidates(rest.strip("/")) if (r.handler in writes) == (method == "POST")
    ]
    namespaces = {
        n.name: n for n in Namespace.objects.filter(name__in={r.namespace for r in routes})
    }
    wanted: dict[str, set] = {"dataset": set(), "job": set()}
    for r in routes:
        if r.name is not None:
            wanted["job" if r.handler.startswith("job") else "dataset"].add((r.namespace, r.name))
    rows = {}
    for kind, model in (("dataset", Dataset), ("job", Job)):
        keys = wanted[kind]
        if not keys:
            continue
        related = ("namespace", "current_version") if kind == "dataset" else JOB_RELATED
        found = model.objects.select_related(*related).filter(
            namespace__name__in={ns for ns, _ in keys}, name__in={n for _, n in keys}
        )
        if kind == "dataset":
            found = found.prefetch_related(*shapes.DATASET_PREFETCH)
        rows.update({(kind, r.namespace.name, r.name): r for r in found})
        if kind == "dataset":
            links = DatasetSymlink.objects.select_related("dataset__namespace").filter(
                namespace__in={ns for ns, _ in keys}, name__in={n for _, n in keys}
            )
            for link in links:
                rows.setdefault(("dataset", link.namespace, link.name), link.dataset)
    best = None
    for route in routes:
        ns = namespaces.get(route.namespace)
        if route.name is None:
            row = None
            found = ns is not None
        else:
            kind = "job" if route.handler.startswith("job") else "dataset"
            row = rows.get((kind, route.namespace, route.name))
            found = row is not None
        if found and (best is None or route.weight > best[0].weight):
            best = (route, ns or (row.namespace if row is not None else None), row)
    if best is None:
        raise Missing(f"nothing is named {rest!r} here")
    return best


class NamespacePathView(LineageReadView):
    """Every ``/api/v1/namespaces/...`` route: the path is read by ``resolve``."""

    permission_classes = [ActionPermission, TokenScopePermission]
    write_permission = ("add", "lineage.lineageevent")
    permission_denied_message = "Writing lineage needs the pipeline or ml-engineer role."
    prefix = "/api/v1/namespaces/"

    def _route(self, request):
        rest = request.path_info[len(self.prefix) :]
        try:
            return resolve(rest, request.method)
        except Missing:
            other = "GET" if request.method == "POST" else "POST"
            try:
                resolve(rest, other)
            except Missing:
                raise
            raise MethodNotAllowed(request.method)

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, parameters=PAGE)
    def get(self, request, **kwargs):
        route, ns, row = self._route(request)
        return getattr(self, f"read_{route.handler}")(request, ns, row, **route.extra)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def post(self, request, **kwargs):
        route, ns, row = self._route(request)
        if route.handler == "field_tag":
            tag_dataset(row, route.extra["tag"], field=route.extra["field"], actor=request.user)
        else:
            tag_dataset(row, route.extra["tag"], actor=request.user)
        return self.read_dataset(request, ns, Dataset.objects.get(pk=row.pk))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def delete(self, request, **kwargs):
        route, ns, row = self._route(request)
        if route.handler not in ("namespace", "dataset", "job"):
            raise Missing("only namespaces, datasets and jobs are deleted")
        target = ns if route.handler == "namespace" else row
        lineage_delete(target, actor=request.user)
        return getattr(self, f"read_{route.handler}")(request, ns, target)

    # the reads, each ``(request, namespace row, dataset or job row, **extra)``

    def read_namespace(self, request, ns, row=None):
        return Response(shapes.namespace(ns))

    def read_dataset_list(self, request, ns, row=None):
        queryset = (
            live(Dataset.objects.filter(namespace=ns))
            .select_related("namespace", "current_version")
            .prefetch_related(*shapes.DATASET_PREFETCH)
            .order_by("name")
        )
        rows, total = self.page(request, queryset)
        current = current_versions(rows)
        columns = graph.current_column_lineage(d.pk for d in rows)
        return Response(
            {
                "datasets": [shapes.dataset(d, current.get(d.pk), columns.get(d.pk)) for d in rows],
                "totalCount": total,
            }
        )

    def read_dataset(self, request, ns, row):
        current = current_versions([row]).get(row.pk)
        columns = graph.current_column_lineage([row.pk]).get(row.pk)
        return Response(shapes.dataset(row, current, columns))

    def read_dataset_versions(self, request, ns, row):
        queryset = DatasetVersion.objects.filter(dataset=row).select_related(*VERSION_RELATED)
        rows, total = self.page(request, queryset.order_by("-created_at", "-pk"))
        return Response(
            {"versions": [shapes.dataset_version(v) for v in rows], "totalCount": total}
        )

    def read_dataset_version(self, request, ns, row, version):
        found = (
            DatasetVersion.objects.filter(dataset=row, version=version)
            .select_related(*VERSION_RELATED)
            .first()
        )
        if found is None:
            raise Missing(f"dataset {row.name!r} has no version {version!r}")
        return Response(shapes.dataset_version(found))

    def read_job_list(self, request, ns, row=None):
        return job_page(self, request, live(Job.objects.filter(namespace=ns)))

    def read_job(self, request, ns, row):
        return Response(job_shapes([row])[0])

    def read_job_runs(self, request, ns, row):
        queryset = Run.objects.filter(job=row).select_related(*shapes.RUN_RELATED)
        rows, total = self.page(request, queryset.order_by("-created_at", "-pk"))
        return Response({"runs": run_shapes(rows), "totalCount": total})

    def read_job_versions(self, request, ns, row):
        queryset = JobVersion.objects.filter(job=row).select_related("job__namespace")
        rows, total = self.page(request, queryset.order_by("-created_at", "-pk"))
        latest = latest_runs_of_versions([v.pk for v in rows])
        return Response(
            {
                "versions": [shapes.job_version(v, latest.get(v.pk)) for v in rows],
                "totalCount": total,
            }
        )

    def read_job_version(self, request, ns, row, version):
        found = (
            JobVersion.objects.filter(job=row, version=_uuid_or_missing(version))
            .select_related("job__namespace")
            .first()
        )
        if found is None:
            raise Missing(f"job {row.name!r} has no version {version!r}")
        return Response(
            shapes.job_version(found, latest_runs_of_versions([found.pk]).get(found.pk))
        )


def _uuid_or_missing(value: str):
    import uuid

    try:
        return uuid.UUID(value)
    except ValueError:
        raise Missing(f"{value!r} is not a job version (a UUID)")


# --- helpers shared by the reads -------------------------------------------------------------


def current_versions(datasets) -> dict[int, DatasetVersion]:
    """Each dataset's current version: the one its newest event wrote, else its newest."""
    found = {d.pk: d.current_version for d in datasets if d.current_version_id}
    rest = [d.pk for d in datasets if not d.current_version_id]
    if rest:
        latest = (
            DatasetVersion.objects.filter(dataset_id=OuterRef("dataset_id"))
            .order_by("-created_at", "-pk")
            .values("pk")[:1]
        )
        rows = DatasetVersion.objects.filter(dataset_id__in=rest, pk=Subquery(latest))
        found.update({v.dataset_id: v for v in rows})
    return found


def job_io(job_ids):
    """``{job id: (inputs, outputs)}`` as dataset rows, from runs and declared lineage."""
    reads, writes = graph.job_dataset_edges(job_ids=job_ids)
    rows = Dataset.objects.filter(pk__in={d for _, d in reads | writes}).select_related("namespace")
    by_pk = {d.pk: d for d in rows}
    result = {j: ([], []) for j in job_ids}
    for j, d in sorted(reads, key=lambda e: by_pk[e[1]].name):
        result[j][0].append(by_pk[d])
    for j, d in sorted(writes, key=lambda e: by_pk[e[1]].name):
        result[j][1].append(by_pk[d])
    return result


LATEST_RUNS = 10


def latest_runs(job_ids, count: int = LATEST_RUNS) -> dict[int, list[Run]]:
    """The newest runs of each job (newest first), one query for the whole page."""
    job_ids = list(job_ids)
    if not job_ids:
        return {}
    result: dict[int, list] = {j: [] for j in job_ids}
    rows = (
        Run.objects.filter(job_id__in=job_ids)
        .select_related(*shapes.RUN_RELATED)
        .order_by("job_id", "-created_at", "-pk")
    )
    if len(job_ids) == 1:
        rows = rows[:count]
    for run in rows:
        if len(result[run.job_id]) < count:
            result[run.job_id].append(run)
    return result


def latest_runs_of_versions(version_ids) -> dict[int, Run]:
    latest = Run.objects.filter(job_version_id=OuterRef("job_version_id")).order_by(
        "-created_at", "-pk"
    )
    rows = Run.objects.filter(
        job_version_id__in=list(version_ids), pk=Subquery(latest.values("pk")[:1])
    ).select_related(*shapes.RUN_RELATED)
    return {r.job_version_id: r for r in rows}


def job_shapes(jobs) -> list[dict]:
    ids = [j.pk for j in jobs]
    io = job_io(ids) if ids else {}
    runs = latest_runs(ids)
    return [shapes.job(j, *io[j.pk], (runs.get(j.pk) or [None])[0], runs.get(j.pk)) for j in jobs]


def job_page(view, request, queryset):
    rows, total = view.page(request, queryset.select_related(*JOB_RELATED).order_by("name", "pk"))
    return Response({"jobs": job_shapes(rows), "totalCount": total})


def run_shapes(runs) -> list[dict]:
    """Runs with their input and output dataset versions (and those edges' facets)."""
    ids = [r.pk for r in runs]
    inputs: dict[int, list] = {pk: [] for pk in ids}
    outputs: dict[int, list] = {pk: [] for pk in ids}
    for model, bucket in ((RunInput, inputs), (RunOutput, outputs)):
        edges = model.objects.filter(run_id__in=ids).select_related(
            "dataset_version__dataset__namespace"
        )
        for edge in edges.order_by("pk"):
            bucket[edge.run_id].append(edge)
    return [shapes.run(r, inputs[r.pk], outputs[r.pk]) for r in runs]


def _run(run_id: str) -> Run:
    from lineage.services import run_uuid

    run = Run.objects.select_related(*shapes.RUN_RELATED).filter(run_id=run_uuid(run_id)).first()
    if run is None:
        raise Missing(f"no run {run_id!r}")
    return run


# --- the other /api/v1 reads -----------------------------------------------------------------


class AllJobsView(LineageReadView):
    """``GET /api/v1/jobs``: jobs of every namespace."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, parameters=PAGE)
    def get(self, request):
        return job_page(self, request, live(Job.objects.all()))


class RunDetailView(LineageReadView):
    """``GET /api/v1/jobs/runs/{id}`` (a UUID, or the runId string the emitter sent)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, run_id):
        return Response(run_shapes([_run(run_id)])[0])


class RunFacetsView(LineageReadView):
    """``GET /api/v1/jobs/runs/{id}/facets?type=run|job``."""

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=[OpenApiParameter("type", OpenApiTypes.STR, enum=["run", "job"])],
    )
    def get(self, request, run_id):
        kind = (request.query_params.get("type") or "run").lower()
        if kind not in ("run", "job"):
            raise BadParameter("must be run or job", field="type")
        run = _run(run_id)
        facets = run.facets if kind == "run" else run.job.facets
        return Response({"runId": str(run.run_id), "facets": facets or {}})


class RunLineageUpstreamView(LineageReadView):
    """``GET /api/v1/runlineage/upstream?runId=...&depth=N``: the runs upstream of a run
    (the run first, then the producers of its inputs, ...), each with its inputs."""

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("runId", OpenApiTypes.STR, required=True),
            OpenApiParameter("depth", OpenApiTypes.INT),
        ],
    )
    def get(self, request):
        run_id = request.query_params.get("runId")
        if not run_id:
            raise BadParameter("is required", field="runId")
        depth = int_param(request, "depth", graph.DEFAULT_DEPTH, low=1, high=graph.MAX_DEPTH)
        start = _run(run_id)
        order = [start.pk]
        seen = {start.pk}
        frontier = [start.pk]
        for _ in range(depth):
            version_ids = RunInput.objects.filter(run_id__in=frontier).values_list(
                "dataset_version_id", flat=True
            )
            producers = (
                RunOutput.objects.filter(dataset_version_id__in=list(version_ids))
                .exclude(run_id__in=seen)
                .values_list("run_id", flat=True)
                .distinct()
            )
            frontier = sorted(set(producers))
            if not frontier:
                break
            order += frontier
            seen.update(frontier)
        runs = {
            r.pk: r for r in Run.objects.filter(pk__in=order).select_related(*shapes.RUN_RELATED)
        }
        inputs: dict[int, list] = {pk: [] for pk in order}
        edges = RunInput.objects.filter(run_id__in=order).select_related(
            "dataset_version__dataset__namespace", "dataset_version__producing_run"
        )
        for edge in edges.order_by("pk"):
            inputs[edge.run_id].append(edge.dataset_version)
        body = []
        for pk in order:
            run = runs[pk]
            body.append(
                {
                    "job": {
                        "namespace": run.job.namespace.name,
                        "name": run.job.name,
                        "version": str(run.job_version.version) if run.job_version_id else None,
                    },
                    "run": {
                        "id": str(run.run_id),
                        "start": shapes._iso(run.started_at),
                        "end": shapes._iso(run.ended_at),
                        "status": shapes.MARQUEZ_RUN_STATE.get(run.state, "NEW"),
                    },
                    "inputs": [
                        {
                            "namespace": v.dataset.namespace.name,
                            "name": v.dataset.name,
                            "version": v.version,
                            "producedByRunId": str(v.producing_run.run_id)
                            if v.producing_run_id
                            else None,
                        }
                        for v in inputs[pk]
                    ],
                }
            )
        return Response({"runs": body})


def _source(ns, stats) -> dict:
    scheme, sep, _ = ns.name.partition("://")
    return {
        "type": (scheme.upper() if sep else "DEFAULT"),
        "name": ns.name,
        "createdAt": shapes._iso(ns.created_at),
        "updatedAt": shapes._iso(stats.get(ns.pk) or ns.created_at),
        "connectionUrl": ns.name,
        "description": None,
    }


def _sources():
    """A source is a namespace datasets live in (govreg answers ``sourceName`` = namespace)."""
    return live(Namespace.objects.filter(datasets__isnull=False).distinct()).order_by("name")


class SourceListView(LineageReadView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, parameters=PAGE)
    def get(self, request):
        rows, total = self.page(request, _sources())
        updated = dict(
            Dataset.objects.filter(namespace__in=rows)
            .values("namespace_id")
            .annotate(last=Max("updated_at"))
            .values_list("namespace_id", "last")
        )
        return Response({"sources": [_source(ns, updated) for ns in rows], "totalCount": total})


class SourceDetailView(LineageReadView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, source):
        ns = _sources().filter(name=source).first()
        if ns is None:
            raise Missing(f"no source {source!r}")
        updated = dict(
            Dataset.objects.filter(namespace=ns)
            .values("namespace_id")
            .annotate(last=Max("updated_at"))
            .values_list("namespace_id", "last")
        )
        return Response(_source(ns, updated))


class TagListView(LineageReadView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, parameters=PAGE)
    def get(self, request):
        rows, total = self.page(request, Tag.objects.order_by("name"))
        return Response(
            {
                "tags": [{"name": t.name, "description": t.description or None} for t in rows],
                "totalCount": total,
            }
        )


class TagView(LineageReadView):
    """``PUT /api/v1/tags/{tag}`` ``{"description": ...}``: create or describe a tag."""

    permission_classes = [ActionPermission, TokenScopePermission]
    write_permission = ("add", "lineage.lineageevent")
    permission_denied_message = "Writing lineage needs the pipeline or ml-engineer role."

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def put(self, request, tag):
        description = (
            (request.data or {}).get("description") if isinstance(request.data, dict) else None
        )
        if description is not None and not isinstance(description, str):
            raise BadParameter("must be a string", field="description")
        upsert_tag(tag, description, actor=request.user)
        tags = Tag.objects.order_by("name")
        return Response(
            {"tags": [{"name": t.name, "description": t.description or None} for t in tags]}
        )


class ColumnLineageView(LineageReadView):
    """``GET /api/v1/column-lineage?nodeId=dataset:NS:NAME|datasetField:NS:NAME:FIELD
    [&depth=N&withDownstream=true]``: field-level lineage, upstream (and downstream)."""

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("nodeId", OpenApiTypes.STR, required=True),
            OpenApiParameter("depth", OpenApiTypes.INT),
            OpenApiParameter("withDownstream", OpenApiTypes.BOOL),
        ],
    )
    def get(self, request):
        node_id = request.query_params.get("nodeId")
        if not node_id:
            raise BadParameter(
                "is required (dataset:NS:NAME or datasetField:NS:NAME:FIELD)", field="nodeId"
            )
        depth = int_param(request, "depth", graph.DEFAULT_DEPTH, low=1, high=graph.MAX_DEPTH)
        raw = (request.query_params.get("withDownstream") or "false").lower()
        if raw not in ("true", "false", "1", "0"):
            raise BadParameter("must be true or false", field="withDownstream")
        downstream = raw in ("true", "1")
        return Response(
            {"graph": column_graph(node_id, depth=depth, upstream=True, downstream=downstream)}
        )


def start_fields(node_id: str):
    """The ``(dataset id, field)`` pairs a column-lineage query starts from."""
    if node_id.startswith("datasetField:"):
        dataset, name = graph.resolve_field_node(node_id)
        return {(dataset.pk, name)}
    kind, row = graph.resolve_node(node_id)
    if kind != "dataset":
        raise BadParameter("must be a dataset or datasetField node", field="nodeId")
    names = {f.get("name") for f in ((row.facets or {}).get("schema") or {}).get("fields") or []}
    names |= {r.output_field for r in graph.current_column_lineage([row.pk]).get(row.pk, [])}
    return {(row.pk, n) for n in names if n}


def column_graph(node_id: str, *, depth, upstream=True, downstream=False, as_of=None) -> list:
    """Marquez's column-lineage graph: ``DATASET_FIELD`` nodes, input -> output edges."""
    fields, edges = graph.column_lineage_walk(
        start_fields(node_id), depth=depth, upstream=upstream, downstream=downstream, as_of=as_of
    )
    datasets = {
        d.pk: d
        for d in Dataset.objects.filter(pk__in={d for d, _ in fields}).select_related(
            "namespace", "current_version"
        )
    }
    ids = {
        (d, f): graph.field_node_id(datasets[d].namespace.name, datasets[d].name, f)
        for d, f in fields
        if d in datasets
    }
    ins: dict[str, set] = {}
    outs: dict[str, set] = {}
    inputs_of: dict[tuple, list] = {}
    for row in edges:
        source = (row.input_dataset_id, row.input_field)
        target = (row.dataset_version.dataset_id, row.output_field)
        if source not in ids or target not in ids:
            continue
        edge = (ids[source], ids[target])
        outs.setdefault(edge[0], set()).add(edge)
        ins.setdefault(edge[1], set()).add(edge)
        inputs_of.setdefault(target, []).append(row)
    nodes = []
    for key, nid in ids.items():
        ds = datasets[key[0]]
        types = {
            f.get("name"): f.get("type")
            for f in ((ds.facets or {}).get("schema") or {}).get("fields") or []
            if isinstance(f, dict)
        }
        rows = inputs_of.get(key, [])
        first = shapes.column_lineage(rows[:1])
        first_input = first[0]["inputFields"][0] if first else {}
        data = {
            "namespace": ds.namespace.name,
            "dataset": ds.name,
            "datasetVersion": ds.current_version.version if ds.current_version_id else None,
            "field": key[1],
            "fieldType": types.get(key[1]),
            "transformationDescription": first_input.get("transformationDescription"),
            "transformationType": first_input.get("transformationType"),
            "inputFields": [
                {**item, "datasetVersion": None}
                for entry in shapes.column_lineage(rows)
                for item in entry["inputFields"]
            ],
        }
        nodes.append(
            shapes.graph_node(nid, "DATASET_FIELD", data, ins.get(nid, ()), outs.get(nid, ()))
        )
    return sorted(nodes, key=lambda n: n["id"])


# --- /api/v1/stats: the Marquez UI's home page -------------------------------------------------

_PERIODS = {"DAY": (24, timedelta(hours=1)), "WEEK": (7, timedelta(days=1))}


def _buckets(request, queryset, field: str, *, cumulative: bool) -> list[dict]:
    """``[{"start", "end", "count"}]``: 24 hours (``period=DAY``) or 7 days (``WEEK``),
    the last one holding now; ``cumulative`` counts everything up to each bucket's end."""
    period = (request.query_params.get("period") or "DAY").upper()
    if period not in _PERIODS:
        raise BadParameter("must be DAY or WEEK", field="period")
    count, step = _PERIODS[period]
    now = timezone.now()
    last = now.replace(minute=0, second=0, microsecond=0)
    if step == timedelta(days=1):
        last = last.replace(hour=0)
    first = last - (count - 1) * step
    moments = list(
        queryset.filter(**{f"{field}__gte": first, f"{field}__lt": last + step}).values_list(
            field, flat=True
        )
    )
    total = queryset.filter(**{f"{field}__lt": first}).count() if cumulative else 0
    body = []
    for index in range(count):
        start = first + index * step
        inside = sum(1 for m in moments if start <= m < start + step)
        total += inside
        body.append(
            {
                "start": shapes._iso(start),
                "end": shapes._iso(start + step),
                "count": total if cumulative else inside,
            }
        )
    return body


class StatsView(LineageReadView):
    """``GET /api/v1/stats/{lineage-events|jobs|datasets|sources}?period=DAY|WEEK``: counts
    per hour (DAY) or day (WEEK); jobs, datasets and sources cumulative, as Marquez."""

    kind = "lineage-events"

    @extend_schema(
        responses={
            200: {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "start": {"type": "string", "format": "date-time"},
                        "end": {"type": "string", "format": "date-time"},
                        "count": {"type": "integer"},
                    },
                },
            }
        },
        parameters=[OpenApiParameter("period", OpenApiTypes.STR, enum=["DAY", "WEEK"])],
    )
    def get(self, request):
        if self.kind == "lineage-events":
            return Response(
                _buckets(request, LineageEvent.objects.all(), "received_at", cumulative=False)
            )
        queryset = {
            "jobs": live(Job.objects.all()),
            "datasets": live(Dataset.objects.all()),
            "sources": _sources(),
        }[self.kind]
        return Response(_buckets(request, queryset, "created_at", cumulative=True))


__all__ = [
    "AllJobsView",
    "ColumnLineageView",
    "NamespacePathView",
    "RunDetailView",
    "RunFacetsView",
    "RunLineageUpstreamView",
    "SourceDetailView",
    "SourceListView",
    "StatsView",
    "TagListView",
    "TagView",
    "column_graph",
    "resolve",
]
