"""Marquez-shaped JSON for namespaces, datasets, versions, jobs, runs and graph nodes.

Plain functions over rows that the views fetched with their relations, so a
list is a fixed number of queries whatever its length.
"""

from __future__ import annotations

from lineage import graph


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


def _fields(facets: dict) -> list:
    schema = (facets or {}).get("schema") or {}
    return [
        {
            "name": field.get("name"),
            "type": field.get("type"),
            "tags": [],
            "description": field.get("description"),
        }
        for field in schema.get("fields") or []
        if isinstance(field, dict)
    ]


def _description(facets: dict):
    return ((facets or {}).get("documentation") or {}).get("description")


def dataset(ds, current_version=None) -> dict:
    ns = ds.namespace.name
    return {
        "id": {"namespace": ns, "name": ds.name},
        "type": "DB_TABLE",
        "name": ds.name,
        "physicalName": ds.name,
        "createdAt": _iso(ds.created_at),
        "updatedAt": _iso(ds.updated_at),
        "namespace": ns,
        "sourceName": ns,
        "fields": _fields(ds.facets),
        "tags": [],
        "lastModifiedAt": _iso(current_version.created_at) if current_version else None,
        "description": _description(ds.facets),
        "facets": ds.facets,
        "currentVersion": current_version.version if current_version else None,
        "deleted": False,
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
        "description": _description(version.facets),
        "facets": version.facets,
        "createdByRun": {"id": str(run.run_id)} if run else None,
        "contentHash": version.content_hash,
        "status": version.status,
        "privacyNotes": version.privacy_notes,
        "consentNotes": version.consent_notes,
        "licenceNotes": version.licence_notes,
    }


def job(jb, inputs=(), outputs=(), latest_run=None) -> dict:
    ns = jb.namespace.name
    return {
        "id": {"namespace": ns, "name": jb.name},
        "type": "BATCH",
        "name": jb.name,
        "simpleName": jb.name.rsplit(".", 1)[-1],
        "createdAt": _iso(jb.created_at),
        "updatedAt": _iso(jb.updated_at),
        "namespace": ns,
        "inputs": [{"namespace": d.namespace.name, "name": d.name} for d in inputs],
        "outputs": [{"namespace": d.namespace.name, "name": d.name} for d in outputs],
        "location": ((jb.facets or {}).get("sourceCodeLocation") or {}).get("url"),
        "description": _description(jb.facets),
        "facets": jb.facets,
        "latestRun": run(latest_run) if latest_run else None,
    }


def run(rn, inputs=None, outputs=None) -> dict:
    duration = None
    if rn.started_at and rn.ended_at:
        duration = int((rn.ended_at - rn.started_at).total_seconds() * 1000)
    body = {
        "id": str(rn.run_id),
        "createdAt": _iso(rn.created_at),
        "updatedAt": _iso(rn.updated_at),
        "nominalStartTime": _iso(rn.nominal_start_time),
        "nominalEndTime": _iso(rn.nominal_end_time),
        "state": rn.state,
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


def _version_ref(version) -> dict:
    ds = version.dataset
    return {
        "datasetVersionId": {
            "namespace": ds.namespace.name,
            "name": ds.name,
            "version": version.version,
        },
        "facets": {},
    }


def graph_node(node_id: str, node_type: str, data: dict, in_edges, out_edges) -> dict:
    return {
        "id": node_id,
        "type": node_type,
        "data": data,
        "inEdges": [{"origin": o, "destination": d} for o, d in sorted(in_edges)],
        "outEdges": [{"origin": o, "destination": d} for o, d in sorted(out_edges)],
    }


def job_dataset_graph(datasets, jobs, reads, writes) -> list[dict]:
    """Marquez's ``{"graph": [...]}`` nodes from rows and ``(job id, dataset id)`` edges."""
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
                nid, "JOB", job(jb, job_inputs, job_outputs), ins.get(nid, ()), outs.get(nid, ())
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
