"""Walking the lineage graph with recursive CTEs (``WITH RECURSIVE``, SQLite and PostgreSQL).

The graph is bipartite: runs read dataset versions (``lineage_runinput``)
and write them (``lineage_runoutput``). Upstream of a run means its inputs,
the runs that wrote those inputs, their inputs, and so on; downstream of a
version means the runs that read it, the versions they wrote, their readers...

Each walk is bounded (``depth`` counts run hops; ``MAX_DEPTH`` caps it), uses
``UNION`` so a node reached twice at the same depth is expanded once, and
reads the edge tables through their ``(run, dataset_version)`` and
``(dataset_version, run)`` indexes. ``as_of`` ignores edges recorded after
that moment, which answers "what did the graph look like when this was
approved?".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models.expressions import RawSQL

from config.errors import Missing
from lineage.models import ColumnLineage, DatasetVersion, JobDataset, Run, RunInput, RunOutput

MAX_DEPTH = 50
DEFAULT_DEPTH = 20

_RI = RunInput._meta.db_table
_RO = RunOutput._meta.db_table


def _bounded(depth: int | None) -> int:
    if depth is None:
        return MAX_DEPTH
    return max(1, min(int(depth), MAX_DEPTH))


def _id_list(ids: Iterable[int]) -> list[int]:
    return sorted({int(i) for i in ids})


def _id_set(column: str, ids: list[int]) -> tuple[str, list]:
    """``column`` is one of ``ids``, as ONE bound parameter (an array on PostgreSQL, JSON on
    SQLite), so a job with a hundred thousand runs fits any parameter limit."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [ids]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(ids)]  # noqa: S608


def _chunks(ids, size: int = 5000):
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _as_of(alias: str, as_of: datetime | None) -> tuple[str, list]:
    if as_of is None:
        return "", []
    return f" AND {alias}.created_at <= %s", [as_of]


def _walk_sql(start: str, reach: str, seed: str, seed_params: list, depth, as_of):
    """``(sql, params)`` of the recursive walk ``walk(node_id, hops)`` seeded by the
    edges matching ``seed`` (an SQL condition over ``ri``)."""
    seed_filter, seed_as_of = _as_of("ri", as_of)
    ro_filter, ro_params = _as_of("ro", as_of)
    ri_filter, ri_params = _as_of("ri", as_of)
    # Table and column names are module constants; every value goes in as a parameter.
    sql = f"""
        WITH RECURSIVE walk(node_id, hops) AS (
            SELECT ri.{reach}, 1 FROM {_RI} ri
            WHERE {seed}{seed_filter}
            UNION
            SELECT ri.{reach}, walk.hops + 1
            FROM walk
            JOIN {_RO} ro ON ro.{reach} = walk.node_id{ro_filter}
            JOIN {_RI} ri ON ri.{start} = ro.{start}{ri_filter}
            WHERE walk.hops < %s
        )
    """  # noqa: S608
    return sql, [*seed_params, *seed_as_of, *ro_params, *ri_params, _bounded(depth)]


def _walk(start: str, reach: str, ids: list[int], depth: int | None, as_of) -> dict[int, int]:
    """``{node id: hops}`` for one walk through the edge tables, from nodes in the
    ``start`` column to nodes in the ``reach`` column: upstream starts from runs
    (``run_id``) and reaches the dataset versions they read; downstream starts from
    dataset versions and reaches the runs that read them. Each hop goes back through
    the writes (``lineage_runoutput``) of what was reached to the next reads."""
    if not ids:
        return {}
    seed_sql, seed_ids = _id_set(f"ri.{start}", ids)
    sql, params = _walk_sql(start, reach, seed_sql, seed_ids, depth, as_of)
    with connection.cursor() as cursor:
        cursor.execute(sql + " SELECT node_id, MIN(hops) FROM walk GROUP BY node_id", params)  # noqa: S608
        return dict(cursor.fetchall())


def upstream_of(run_id) -> RawSQL:
    """The ids of every dataset version upstream of one run (``Run.pk``), as of now and
    without a depth bound, as an SQL expression for ``pk__in=``: the walk of
    ``upstream_version_ids`` inside the statement that reads the versions, so a
    statement compiled once (``config.statements``) can take the run as its value."""
    sql, params = _walk_sql("run_id", "dataset_version_id", "ri.run_id = %s", [run_id], None, None)
    return RawSQL(sql + " SELECT node_id FROM walk", params)  # noqa: S608, S611 (constants)


def upstream_version_ids(
    run_ids: Iterable[int], *, depth: int | None = None, as_of: datetime | None = None
) -> dict[int, int]:
    """``{dataset version id: hops}`` upstream of the runs (by ``Run.pk``)."""
    return _walk("run_id", "dataset_version_id", _id_list(run_ids), depth, as_of)


def upstream_versions(
    run_ids: Iterable[int],
    as_of: datetime | None = None,
    *,
    depth: int | None = None,
    annotations: dict | None = None,
) -> list[DatasetVersion]:
    """Every dataset version the runs (``Run.pk``) were built from, transitively.

    The registry uses it for "what data trained this model version?"; ``annotations``
    (expressions over a dataset version) are read in the same statement.
    """
    ids = upstream_version_ids(run_ids, depth=depth, as_of=as_of)
    return list(
        DatasetVersion.objects.filter(pk__in=ids.keys())
        .annotate(**(annotations or {}))
        .select_related("dataset__namespace", "producing_run")
        .order_by("dataset__namespace__name", "dataset__name", "-created_at")
    )


def downstream_run_hops(
    dataset_version_ids: Iterable[int], *, depth: int | None = None, as_of: datetime | None = None
) -> dict[int, int]:
    """``{run id: hops}`` downstream of the versions: their readers, what those wrote, ..."""
    return _walk("dataset_version_id", "run_id", _id_list(dataset_version_ids), depth, as_of)


def downstream_run_ids(
    dataset_version_ids: Iterable[int], as_of: datetime | None = None, *, depth: int | None = None
) -> set[int]:
    """Ids (``Run.pk``) of every run built, directly or not, on these dataset versions.

    The registry uses it for "which model versions are affected by this revoked dataset?".
    """
    return set(downstream_run_hops(dataset_version_ids, depth=depth, as_of=as_of))


# --- node ids and the node graphs the API answers ------------------------------------------


class NodeNotFound(Missing):
    """A node id that names nothing (or is malformed)."""


def _splits(text: str, parts: int):
    """Every way to cut ``text`` at ``:`` into ``parts`` non-empty pieces (names may hold ':')."""
    positions = [i for i, char in enumerate(text) if char == ":"]
    if parts == 2:
        for i in positions:
            if 0 < i < len(text) - 1:
                yield text[:i], text[i + 1 :]
    elif parts == 3:
        for a_index, i in enumerate(positions):
            for j in positions[a_index + 1 :]:
                if i > 0 and i + 1 < j and j < len(text) - 1:
                    yield text[:i], text[i + 1 : j], text[j + 1 :]


def resolve_node(node_id: str):
    """``dataset:NS:NAME``, ``job:NS:NAME`` or ``datasetVersion:NS:NAME:VERSION`` -> its row."""
    from django.db.models import Q

    from lineage.models import Dataset, Job

    kind, sep, rest = (node_id or "").partition(":")
    if not sep or not rest:
        raise NodeNotFound(f"{node_id!r} is not a node id (dataset:NS:NAME, job:NS:NAME, ...)")
    if kind in ("dataset", "job"):
        model = Dataset if kind == "dataset" else Job
        query = Q(pk__in=[])
        for ns, name in _splits(rest, 2):
            query |= Q(namespace__name=ns, name=name)
        row = model.objects.select_related("namespace").filter(query).order_by("pk").first()
        if row is None and kind == "dataset":
            row = dataset_by_symlink(rest)
    elif kind == "datasetVersion":
        query = Q(pk__in=[])
        for ns, name, version in _splits(rest, 3):
            query |= Q(dataset__namespace__name=ns, dataset__name=name, version=version)
        row = (
            DatasetVersion.objects.select_related("dataset__namespace")
            .filter(query)
            .order_by("pk")
            .first()
        )
    else:
        raise NodeNotFound(f"unknown node type {kind!r}; use dataset, job or datasetVersion")
    if row is None:
        raise NodeNotFound(f"no {kind} {rest!r}")
    return kind, row


def dataset_by_symlink(rest: str):
    """The dataset one of whose ``symlinks`` identifiers is ``NS:NAME`` (any split)."""
    from django.db.models import Q

    from lineage.models import DatasetSymlink

    query = Q(pk__in=[])
    for ns, name in _splits(rest, 2):
        query |= Q(namespace=ns, name=name)
    link = (
        DatasetSymlink.objects.select_related("dataset__namespace")
        .filter(query)
        .order_by("pk")
        .first()
    )
    return link.dataset if link else None


def resolve_field_node(node_id: str):
    """``datasetField:NS:NAME:FIELD`` -> ``(dataset row, field)`` (names may hold ':')."""
    from django.db.models import Q

    from lineage.models import Dataset

    kind, sep, rest = (node_id or "").partition(":")
    if kind != "datasetField" or not rest:
        raise NodeNotFound(f"{node_id!r} is not a datasetField:NS:NAME:FIELD node id")
    query = Q(pk__in=[])
    splits = list(_splits(rest, 3))
    for ns, name, _ in splits:
        query |= Q(namespace__name=ns, name=name)
    rows = {
        (d.namespace.name, d.name): d
        for d in Dataset.objects.select_related("namespace").filter(query)
    }
    for ns, name, field in splits:
        if (ns, name) in rows:
            return rows[(ns, name)], field
    for ns, name, field in splits:
        found = dataset_by_symlink(f"{ns}:{name}")
        if found is not None:
            return found, field
    raise NodeNotFound(f"no dataset field {rest!r}")


def field_node_id(namespace: str, dataset: str, field: str) -> str:
    return f"datasetField:{namespace}:{dataset}:{field}"


def dataset_node_id(dataset) -> str:
    return f"dataset:{dataset.namespace.name}:{dataset.name}"


def job_node_id(job) -> str:
    return f"job:{job.namespace.name}:{job.name}"


def version_node_id(version) -> str:
    dataset = version.dataset
    return f"datasetVersion:{dataset.namespace.name}:{dataset.name}:{version.version}"


def run_node_id(run) -> str:
    return f"run:{run.run_id}"


def job_dataset_edges(dataset_ids=(), job_ids=()):
    """Job-level edges ``(job id, dataset id)`` for reads and writes touching the given nodes:
    what the jobs' runs read and wrote, and what their JobEvents declare."""
    reads, writes = set(), set()
    for direction, bucket in ((JobDataset.INPUT, reads), (JobDataset.OUTPUT, writes)):
        declared = JobDataset.objects.filter(direction=direction)
        if dataset_ids:
            bucket.update(
                declared.filter(dataset_id__in=list(dataset_ids)).values_list(
                    "job_id", "dataset_id"
                )
            )
        if job_ids:
            bucket.update(
                declared.filter(job_id__in=list(job_ids)).values_list("job_id", "dataset_id")
            )
    for model, bucket in ((RunInput, reads), (RunOutput, writes)):
        if dataset_ids:
            bucket.update(
                model.objects.filter(dataset_version__dataset_id__in=list(dataset_ids))
                .values_list("run__job_id", "dataset_version__dataset_id")
                .distinct()
            )
        if job_ids:
            bucket.update(
                model.objects.filter(run__job_id__in=list(job_ids))
                .values_list("run__job_id", "dataset_version__dataset_id")
                .distinct()
            )
    return reads, writes


def job_dataset_neighbourhood(kind: str, row, depth: int):
    """Datasets and jobs within ``depth`` hops of a node, both directions (Marquez's lineage).

    One pair of queries per hop; returns ``(dataset ids, job ids, reads, writes)`` where
    reads/writes are ``(job id, dataset id)`` edges among them.
    """
    datasets = {row.pk} if kind == "dataset" else set()
    jobs = {row.pk} if kind == "job" else set()
    frontier_d, frontier_j = set(datasets), set(jobs)
    reads, writes = set(), set()
    for _ in range(_bounded(depth)):
        if not frontier_d and not frontier_j:
            break
        new_reads, new_writes = job_dataset_edges(frontier_d, frontier_j)
        reads |= new_reads
        writes |= new_writes
        found_jobs = {j for j, _ in new_reads | new_writes}
        found_datasets = {d for _, d in new_reads | new_writes}
        frontier_j = found_jobs - jobs
        frontier_d = found_datasets - datasets
        jobs |= found_jobs
        datasets |= found_datasets
    return datasets, jobs, reads, writes


def directed_subgraph(
    kind: str, row, direction: str, *, depth: int | None = None, as_of: datetime | None = None
):
    """Version-level graph upstream or downstream of a dataset, job or dataset version.

    Returns ``(version ids, run ids, reads, writes)``: reads/writes are ``(run id, version
    id)`` edges among them, recorded no later than ``as_of`` when given.
    """
    limit = _bounded(depth)
    seed_versions: set[int] = set()
    seed_runs: set[int] = set()
    if kind == "datasetVersion":
        seed_versions = {row.pk}
    elif kind == "dataset":
        versions = DatasetVersion.objects.filter(dataset=row)
        if as_of is not None:
            versions = versions.filter(created_at__lte=as_of)
        seed_versions = set(versions.values_list("pk", flat=True))
    else:
        runs = Run.objects.filter(job=row)
        if as_of is not None:
            runs = runs.filter(created_at__lte=as_of)
        seed_runs = set(runs.values_list("pk", flat=True))

    def edges(model, run_ids, version_ids=None):
        found = set()
        for chunk in _chunks(run_ids):
            query = model.objects.filter(run_id__in=chunk)
            if as_of is not None:
                query = query.filter(created_at__lte=as_of)
            found.update(query.values_list("run_id", "dataset_version_id"))
        if version_ids is not None:
            found = {(r, v) for r, v in found if v in version_ids}
        return found

    if direction == "upstream":
        runs = set(seed_runs)
        if seed_versions:
            runs |= {r for r, _ in _edges_to(RunOutput, seed_versions, as_of)}
        hops = upstream_version_ids(runs, depth=limit, as_of=as_of) if runs else {}
        versions = set(hops) | seed_versions
        inner = {v for v, h in hops.items() if h < limit}
        runs |= {r for r, _ in _edges_to(RunOutput, inner, as_of)}
    else:
        if seed_runs:
            seed_versions |= {v for _, v in edges(RunOutput, seed_runs)}
        hops = downstream_run_hops(seed_versions, depth=limit, as_of=as_of)
        runs = set(hops) | seed_runs
        versions = seed_versions | {v for _, v in edges(RunOutput, runs)}
    reads = edges(RunInput, runs, versions)
    writes = edges(RunOutput, runs, versions)
    return versions, runs, reads, writes


def _edges_to(model, version_ids, as_of):
    found = set()
    for chunk in _chunks(version_ids):
        query = model.objects.filter(dataset_version_id__in=chunk)
        if as_of is not None:
            query = query.filter(created_at__lte=as_of)
        found.update(query.values_list("run_id", "dataset_version_id"))
    return found


# --- column lineage ---------------------------------------------------------------------


def current_column_lineage(dataset_ids, as_of: datetime | None = None) -> dict[int, list]:
    """``{dataset id: [ColumnLineage]}``: each dataset's column lineage as its newest
    version with a ``columnLineage`` facet states it (the current version when it has one)."""
    dataset_ids = _id_list(dataset_ids)
    if not dataset_ids:
        return {}
    rows = ColumnLineage.objects.filter(dataset_version__dataset_id__in=dataset_ids).select_related(
        "dataset_version__dataset__namespace", "input_dataset__namespace"
    )
    if as_of is not None:
        rows = rows.filter(dataset_version__created_at__lte=as_of)
    by_version: dict[int, list] = {}
    for row in rows.order_by("pk"):
        by_version.setdefault(row.dataset_version_id, []).append(row)
    chosen: dict[int, tuple] = {}
    for version_id, items in by_version.items():
        version = items[0].dataset_version
        dataset = version.dataset
        rank = (
            as_of is None and dataset.current_version_id == version_id,
            version.created_at,
            version_id,
        )
        if dataset.pk not in chosen or rank > chosen[dataset.pk][0]:
            chosen[dataset.pk] = (rank, items)
    return {dataset_id: items for dataset_id, (_, items) in chosen.items()}


def column_lineage_walk(
    start, *, depth: int | None = None, upstream: bool = True, downstream: bool = False, as_of=None
):
    """Field-level lineage around ``start`` (``(dataset id, field)`` pairs), ``depth`` hops
    each way asked for. Returns ``(fields, edges)``: every ``(dataset id, field)`` reached
    and the ``ColumnLineage`` rows between them (input field -> output field)."""
    limit = _bounded(depth)
    fields = set(start)
    edges: dict[int, object] = {}
    if upstream:
        frontier = set(start)
        for _ in range(limit):
            if not frontier:
                break
            lineage = current_column_lineage({d for d, _ in frontier}, as_of)
            found = set()
            for dataset_id, rows in lineage.items():
                for row in rows:
                    if (dataset_id, row.output_field) in frontier:
                        edges[row.pk] = row
                        found.add((row.input_dataset_id, row.input_field))
            frontier = found - fields
            fields |= found
    if downstream:
        frontier = set(start)
        for _ in range(limit):
            if not frontier:
                break
            readers = ColumnLineage.objects.filter(
                input_dataset_id__in={d for d, _ in frontier}
            ).values_list("dataset_version__dataset_id", flat=True)
            lineage = current_column_lineage(set(readers), as_of)
            found = set()
            for dataset_id, rows in lineage.items():
                for row in rows:
                    if (row.input_dataset_id, row.input_field) in frontier:
                        edges[row.pk] = row
                        found.add((dataset_id, row.output_field))
            frontier = found - fields
            fields |= found
    return fields, list(edges.values())
