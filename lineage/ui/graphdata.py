"""The lineage picture's graph: the directed queries of ``lineage.graph`` as elements
cytoscape draws (dataset versions, runs with their jobs, and the model versions the
registry says a run trained).

A fixed number of queries whatever the graph's size: the walk (one recursive CTE),
the edges among what it reached, the rows of versions and runs, and the registry's
model versions of those runs (one query through the registered provider).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse

from config.errors import BadParameter
from lineage import graph
from lineage.models import DatasetVersion, Run, RunInput, RunOutput
from lineage.ui.impact import models_of_runs

DIRECTIONS = ("upstream", "downstream")
FLAGGED = ("quarantined", "revoked")
CHUNK = 5000  # ids per IN (...) list, under every database's parameter limit


@dataclass(frozen=True)
class GraphQuery:
    node_id: str
    direction: str = "upstream"
    depth: int = graph.DEFAULT_DEPTH
    as_of: datetime | None = None


def resolve(node_id: str):
    """``run:UUID`` (a run, e.g. a model version's training run) or any node id
    ``lineage.graph.resolve_node`` reads."""
    kind, sep, rest = (node_id or "").partition(":")
    if kind == "run" and sep:
        try:
            run_uuid = uuid.UUID(rest)
        except ValueError:
            raise graph.NodeNotFound(f"{rest!r} is not a run id (a UUID)") from None
        run = Run.objects.filter(run_id=run_uuid).first()
        if run is None:
            raise graph.NodeNotFound(f"no run {rest!r}")
        return "run", run
    return graph.resolve_node(node_id)


def _edges(model, column: str, ids, as_of) -> set[tuple[int, int]]:
    """``(run id, version id)`` edges of ``model`` whose ``column`` is one of ``ids``."""
    if not ids:
        return set()
    found = set()
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        rows = model.objects.filter(**{f"{column}__in": chunk})
        if as_of is not None:
            rows = rows.filter(created_at__lte=as_of)
        found.update(rows.values_list("run_id", "dataset_version_id"))
    return found


def _run_subgraph(run: Run, direction: str, depth: int, as_of):
    """``lineage.graph.directed_subgraph`` started from one run."""
    limit = max(1, min(int(depth), graph.MAX_DEPTH))
    runs = {run.pk}
    if direction == "upstream":
        hops = graph.upstream_version_ids(runs, depth=limit, as_of=as_of)
        versions = set(hops)
        inner = {v for v, h in hops.items() if h < limit}
        runs |= {r for r, _ in _edges(RunOutput, "dataset_version_id", inner, as_of)}
    else:
        seeds = {v for _, v in _edges(RunOutput, "run_id", runs, as_of)}
        hops = graph.downstream_run_hops(seeds, depth=limit, as_of=as_of)
        runs |= set(hops)
        versions = seeds | {v for _, v in _edges(RunOutput, "run_id", runs, as_of)}
    reads = {(r, v) for r, v in _edges(RunInput, "run_id", runs, as_of) if v in versions}
    writes = {(r, v) for r, v in _edges(RunOutput, "run_id", runs, as_of) if v in versions}
    return versions, runs, reads, writes


def _short(text: str, length: int = 12) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _version_element(version: DatasetVersion, node_id: str) -> dict:
    dataset = version.dataset
    return {
        "data": {
            "id": node_id,
            "kind": "version",
            "label": f"{dataset.name.rsplit('/', 1)[-1]}@{_short(version.version)}",
            "dataset": f"{dataset.namespace.name}:{dataset.name}",
            "version": version.version,
            "hash": version.content_hash or "",
            "status": version.status,
            "flagged": version.status in FLAGGED,
            "createdAt": version.created_at.isoformat(),
            "url": reverse("ui-lineage-version", args=[version.pk]),
        },
        "classes": f"version {version.status}",
    }


def _run_element(run: Run, node_id: str) -> dict:
    job = run.job
    return {
        "data": {
            "id": node_id,
            "kind": "run",
            "label": f"{job.name.rsplit('/', 1)[-1]} {str(run.run_id)[:8]}",
            "job": graph.job_node_id(job),
            "jobLabel": job.name,
            "state": run.state,
            "createdAt": run.created_at.isoformat(),
        },
        "classes": f"run state-{run.state.lower()}",
    }


def _model_element(ref) -> dict:
    return {
        "data": {
            "id": ref.node_id,
            "kind": "model",
            "label": ref.label,
            "status": ref.status,
            "live": ", ".join(ref.live_in),
            "url": ref.url,
        },
        "classes": "model" + (" live" if ref.live_in else ""),
    }


def _edge(source: str, target: str, kind: str) -> dict:
    return {"data": {"id": f"{source}>{target}", "source": source, "target": target, "kind": kind}}


def build(query: GraphQuery, user) -> dict:
    """The picture of ``query`` as cytoscape elements plus counts; raises
    ``NodeNotFound`` for an unknown node and ``BadParameter`` for a bad direction."""
    if query.direction not in DIRECTIONS:
        raise BadParameter("must be upstream or downstream", field="direction")
    kind, row = resolve(query.node_id)
    if kind == "run":
        version_ids, run_ids, reads, writes = _run_subgraph(
            row, query.direction, query.depth, query.as_of
        )
    else:
        version_ids, run_ids, reads, writes = graph.directed_subgraph(
            kind, row, query.direction, depth=query.depth, as_of=query.as_of
        )
    versions = DatasetVersion.objects.filter(pk__in=version_ids).select_related(
        "dataset__namespace"
    )
    runs = Run.objects.filter(pk__in=run_ids).select_related("job__namespace")
    if query.as_of is not None:
        versions = versions.filter(created_at__lte=query.as_of)
        runs = runs.filter(created_at__lte=query.as_of)
    versions = sorted(versions, key=lambda v: (v.dataset.name, v.version))
    runs = sorted(runs, key=lambda r: (r.job.name, r.created_at))
    v_ids = {v.pk: graph.version_node_id(v) for v in versions}
    r_ids = {r.pk: graph.run_node_id(r) for r in runs}
    nodes = [_version_element(v, v_ids[v.pk]) for v in versions]
    nodes += [_run_element(r, r_ids[r.pk]) for r in runs]
    edges = [
        _edge(v_ids[v], r_ids[r], "read") for r, v in sorted(reads) if r in r_ids and v in v_ids
    ]
    edges += [
        _edge(r_ids[r], v_ids[v], "write") for r, v in sorted(writes) if r in r_ids and v in v_ids
    ]
    models = models_of_runs(list(r_ids), user)
    seen_models = set()
    for run_pk, refs in sorted(models.items()):
        for ref in refs:
            if ref.node_id not in seen_models:
                nodes.append(_model_element(ref))
                seen_models.add(ref.node_id)
            edges.append(_edge(r_ids[run_pk], ref.node_id, "trained"))
    if kind == "run":
        root = graph.run_node_id(row)
    elif kind == "datasetVersion":
        root = graph.version_node_id(row)
    else:
        root = query.node_id
    return {
        "root": root,
        "direction": query.direction,
        "depth": query.depth,
        "asOf": query.as_of.isoformat() if query.as_of else None,
        "counts": {
            "versions": len(versions),
            "runs": len(runs),
            "jobs": len({r.job_id for r in runs}),
            "models": len(seen_models),
            "flagged": sum(1 for v in versions if v.status in FLAGGED),
        },
        "elements": {"nodes": nodes, "edges": edges},
    }
