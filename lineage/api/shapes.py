"""Marquez-shaped JSON for namespaces, datasets, versions, jobs, runs and graph nodes.

Plain functions over rows that the views fetched with their relations, so a
list is a fixed number of queries whatever its length.
"""

from __future__ import annotations

from lineage import graph
from lineage.choices import MARQUEZ_RUN_STATE

# What every run query selects with it, so a run's shape costs no further query.
RUN_RELATED = ("parent__job__namespace", "job__namespace", "job_version")


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def namespace(ns) -> dict:
    return {
        "name": ns.name,
        "createdAt": _iso(ns.created_at),
        "updatedAt": _iso(ns.created_at),
        "ownerName": None,
        "description": None,
        "isHidden": False,
    }


def _fields(facets: dict, field_tags: dict | None = None) -> list:
    schema = (facets or {}).get("schema") or {}
    field_tags = field_tags or {}
    return [
        {
            "name": field.get("name"),
            "type": field.get("type"),
            "tags": sorted(field_tags.get(field.get("name"), ())),
            "description": field.get("description"),
        }
        for field in schema.get("fields") or []
        if isinstance(field, dict)
    ]


def _tag_names(ds) -> tuple[list, dict]:
    """The dataset's tags and ``{field: tags}``, from prefetched rows when the view
    prefetched them (``DATASET_PREFETCH``)."""
    if not getattr(ds, "pk", None):
        return [], {}
    tags = sorted(t.name for t in ds.tags.all())
    fields: dict[str, list] = {}
    for row in ds.field_tags.all():
        fields.setdefault(row.field, []).append(row.tag.name)
    return tags, fields


DATASET_PREFETCH = ("tags", "field_tags__tag")


def column_lineage(rows) -> list:
    """Marquez's ``columnLineage`` of a dataset: each output field and its input fields."""
    by_field: dict[str, list] = {}
    for row in rows or ():
        transformation = (row.transformations or [None])[0]
        if isinstance(transformation, dict):
            description = transformation.get("description")
            kind = transformation.get("type")
        else:
            description, kind = None, transformation
        by_field.setdefault(row.output_field, []).append(
            {
                "namespace": row.input_dataset.namespace.name,
                "dataset": row.input_dataset.name,
                "field": row.input_field,
                "transformationDescription": description,
                "transformationType": kind,
            }
        )
    return [{"name": name, "inputFields": items} for name, items in sorted(by_field.items())]


def _description(facets: dict):
    return ((facets or {}).get("documentation") or {}).get("description")


def dataset(ds, current_version=None, column_rows=None) -> dict:
    ns = ds.namespace.name
    tags, field_tags = _tag_names(ds)
    return {
        "id": {"namespace": ns, "name": ds.name},
        "type": "DB_TABLE",
        "name": ds.name,
        "physicalName": ds.name,
        "createdAt": _iso(ds.created_at),
        "updatedAt": _iso(ds.updated_at),
        "namespace": ns,
        "sourceName": ns,
        "fields": _fields(ds.facets, field_tags),
        "tags": tags,
        "lastModifiedAt": _iso(
            ds.current_version_time or (current_version.created_at if current_version else None)
        ),
        "lastLifecycleState": ds.lifecycle_state or None,
        "description": _description(ds.facets),
        "facets": ds.facets,
        "currentVersion": current_version.version if current_version else None,
        "columnLineage": column_lineage(column_rows) if column_rows else None,
        "symlinks": [
            {"namespace": i.get("namespace"), "name": i.get("name"), "type": i.get("type")}
            for i in ((ds.facets or {}).get("symlinks") or {}).get("identifiers") or []
            if isinstance(i, dict)
        ],
        "deleted": ds.deleted_at is not None,
    }


def dataset_version(version) -> dict:
    ds = version.dataset
    ns = ds.namespace.name
    run = version.producing_run
    return {
        "id": {"namespace": ns, "name": ds.name, "version": version.version},
        "pk": version.pk,
        "type": "DB_TABLE",
        "name": ds.name,
        "physicalName": ds.name,
        "createdAt": _iso(version.created_at),
        "version": version.version,
        "namespace": ns,
        "sourceName": ns,
        "fields": _fields(version.facets),
        "tags": [],
        "lifecycleState": version.lifecycle_state or None,
        # required by Marquez's schema (a string): empty when no documentation facet says
        "description": _description(version.facets) or "",
        "facets": version.facets,
        "createdByRun": created_by_run(run),
        "contentHash": version.content_hash,
        "status": version.status,
        "privacyNotes": version.privacy_notes,
        "consentNotes": version.consent_notes,
        "licenceNotes": version.licence_notes,
    }


def created_by_run(run):
    """The run that wrote a version, in full when its relations were fetched with it."""
    if run is None:
        return None
    if "job" in run._state.fields_cache:
        return globals()["run"](run)
    return {"id": str(run.run_id)}


def _job_type(facets: dict) -> str:
    processing = ((facets or {}).get("jobType") or {}).get("processingType")
    return "STREAM" if str(processing).upper() == "STREAMING" else "BATCH"


def _job_tags(facets: dict) -> list[str]:
    """Tag names from OpenLineage's ``tags`` job facet (``{"tags": [{"key", "value",
    "source"}]}``): ``key``, or ``key:value`` when the value says more than the key."""
    entries = ((facets or {}).get("tags") or {}).get("tags")
    names = set()
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            continue
        key, value = entry["key"], entry.get("value")
        plain = not isinstance(value, str) or value.lower() in ("", "true", key.lower())
        names.add(key if plain else f"{key}:{value}")
    return sorted(names)


def _job_labels(facets: dict) -> list[str]:
    """Labels from a ``labels`` job facet (``{"labels": [...]}`` or a list of strings)."""
    labels = (facets or {}).get("labels")
    if isinstance(labels, dict):
        labels = labels.get("labels")
    return sorted({x for x in labels if isinstance(x, str)}) if isinstance(labels, list) else []


def _job_context(facets: dict) -> dict:
    """Marquez's deprecated ``context`` (string values): the ``sql`` job facet's query."""
    query = ((facets or {}).get("sql") or {}).get("query")
    return {"sql": query} if isinstance(query, str) else {}


def job(jb, inputs=(), outputs=(), latest_run=None, latest_runs=None) -> dict:
    ns = jb.namespace.name
    parent = latest_run.parent if latest_run is not None and latest_run.parent_id else None
    facets = jb.facets or {}
    version = jb.current_version if jb.current_version_id else None
    return {
        "id": {"namespace": ns, "name": jb.name},
        "type": _job_type(facets),
        "name": jb.name,
        "simpleName": jb.name.rsplit(".", 1)[-1],
        "parentJobName": parent.job.name if parent is not None else None,
        "parentJobUuid": None,
        "createdAt": _iso(jb.created_at),
        "updatedAt": _iso(jb.updated_at),
        "namespace": ns,
        "inputs": [{"namespace": d.namespace.name, "name": d.name} for d in inputs],
        "outputs": [{"namespace": d.namespace.name, "name": d.name} for d in outputs],
        "location": (facets.get("sourceCodeLocation") or {}).get("url"),
        "description": _description(facets),
        "context": _job_context(facets),
        "facets": facets,
        "latestRun": run(latest_run) if latest_run else None,
        "latestRuns": [run(r) for r in (latest_runs or ([latest_run] if latest_run else []))],
        "currentVersion": str(version.version) if version is not None else None,
        "labels": _job_labels(facets),
        "tags": _job_tags(facets),
        "deleted": jb.deleted_at is not None,
    }


def job_version(version, latest_run=None) -> dict:
    jb = version.job
    ns = jb.namespace.name
    return {
        "id": {"namespace": ns, "name": jb.name, "version": str(version.version)},
        "name": jb.name,
        "version": str(version.version),
        "createdAt": _iso(version.created_at),
        "namespace": ns,
        "inputs": version.inputs,
        "outputs": version.outputs,
        "location": version.location or None,
        "context": _job_context(jb.facets),
        "latestRun": run(latest_run) if latest_run else None,
        "facets": jb.facets,
    }


def run(rn, inputs=None, outputs=None) -> dict:
    duration = None
    if rn.started_at and rn.ended_at:
        duration = int((rn.ended_at - rn.started_at).total_seconds() * 1000)
    job_version_id = None
    if rn.job_version_id and "job_version" in rn._state.fields_cache:
        jb = rn.job
        job_version_id = {
            "namespace": jb.namespace.name,
            "name": jb.name,
            "version": str(rn.job_version.version),
        }
    body = {
        "id": str(rn.run_id),
        "sourceRunId": rn.source_run_id or str(rn.run_id),
        "createdAt": _iso(rn.created_at),
        "updatedAt": _iso(rn.updated_at),
        "nominalStartTime": _iso(rn.nominal_start_time),
        "nominalEndTime": _iso(rn.nominal_end_time),
        "state": MARQUEZ_RUN_STATE.get(rn.state, "NEW"),
        "jobVersion": job_version_id,
        "startedAt": _iso(rn.started_at),
        "endedAt": _iso(rn.ended_at),
        "durationMs": duration,
        "args": {},
        "facets": rn.facets,
        "parentRunId": str(rn.parent.run_id) if rn.parent_id and rn.parent else None,
    }
    if inputs is not None:
        body["inputDatasetVersions"] = [_version_ref(v) for v in inputs]
    if outputs is not None:
        body["outputDatasetVersions"] = [_version_ref(v) for v in outputs]
    return body


def _version_ref(edge) -> dict:
    """A run's input or output: the version, with the facets of the run's context
    (``inputFacets``, ``outputFacets`` such as ``outputStatistics``). Takes the edge row
    (``RunInput``/``RunOutput``) or, for older callers, the version alone."""
    version = getattr(edge, "dataset_version", edge)
    ds = version.dataset
    return {
        "datasetVersionId": {
            "namespace": ds.namespace.name,
            "name": ds.name,
            "version": version.version,
        },
        "facets": getattr(edge, "facets", None) if edge is not version else {},
    }


def graph_node(node_id: str, node_type: str, data: dict, in_edges, out_edges) -> dict:
    return {
        "id": node_id,
        "type": node_type,
        "data": data,
        "inEdges": [{"origin": o, "destination": d} for o, d in sorted(in_edges)],
        "outEdges": [{"origin": o, "destination": d} for o, d in sorted(out_edges)],
    }


def job_dataset_graph(datasets, jobs, reads, writes, latest_runs=None) -> list[dict]:
    """Marquez's ``{"graph": [...]}`` nodes from rows and ``(job id, dataset id)`` edges;
    ``latest_runs`` (``{job id: run}``) fills the job nodes' ``latestRun``."""
    latest_runs = latest_runs or {}
    d_ids = {ds.pk: graph.dataset_node_id(ds) for ds in datasets}
    j_ids = {jb.pk: graph.job_node_id(jb) for jb in jobs}
    d_rows = {ds.pk: ds for ds in datasets}
    ins: dict[str, set] = {}
    outs: dict[str, set] = {}
    for job_id, dataset_id in reads:  # dataset -> job
        edge = (d_ids[dataset_id], j_ids[job_id])
        outs.setdefault(edge[0], set()).add(edge)
        ins.setdefault(edge[1], set()).add(edge)
    for job_id, dataset_id in writes:  # job -> dataset
        edge = (j_ids[job_id], d_ids[dataset_id])
        outs.setdefault(edge[0], set()).add(edge)
        ins.setdefault(edge[1], set()).add(edge)
    nodes = []
    for ds in datasets:
        nid = d_ids[ds.pk]
        nodes.append(graph_node(nid, "DATASET", dataset(ds), ins.get(nid, ()), outs.get(nid, ())))
    for jb in jobs:
        nid = j_ids[jb.pk]
        job_inputs = [d_rows[d] for j, d in sorted(reads) if j == jb.pk]
        job_outputs = [d_rows[d] for j, d in sorted(writes) if j == jb.pk]
        nodes.append(
            graph_node(
                nid,
                "JOB",
                job(jb, job_inputs, job_outputs, latest_runs.get(jb.pk)),
                ins.get(nid, ()),
                outs.get(nid, ()),
            )
        )
    return sorted(nodes, key=lambda n: n["id"])


def version_run_graph(versions, runs, reads, writes) -> list[dict]:
    """Nodes of a directed query: DATASET_VERSION and RUN, edges ``(run id, version id)``."""
    v_ids = {v.pk: graph.version_node_id(v) for v in versions}
    r_ids = {r.pk: graph.run_node_id(r) for r in runs}
    ins: dict[str, set] = {}
    outs: dict[str, set] = {}
    for run_id, version_id in reads:
        edge = (v_ids[version_id], r_ids[run_id])
        outs.setdefault(edge[0], set()).add(edge)
        ins.setdefault(edge[1], set()).add(edge)
    for run_id, version_id in writes:
        edge = (r_ids[run_id], v_ids[version_id])
        outs.setdefault(edge[0], set()).add(edge)
        ins.setdefault(edge[1], set()).add(edge)
    nodes = []
    for version in versions:
        nid = v_ids[version.pk]
        nodes.append(
            graph_node(
                nid,
                "DATASET_VERSION",
                dataset_version(version),
                ins.get(nid, ()),
                outs.get(nid, ()),
            )
        )
    for rn in runs:
        nid = r_ids[rn.pk]
        data = run(rn)
        data["job"] = {"namespace": rn.job.namespace.name, "name": rn.job.name}
        nodes.append(graph_node(nid, "RUN", data, ins.get(nid, ()), outs.get(nid, ())))
    return sorted(nodes, key=lambda n: n["id"])
