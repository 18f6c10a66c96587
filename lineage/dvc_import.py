"""Import a DVC repository's data versions and pipeline into lineage, through dvc's Python API.

Every tracked output becomes a dataset version identified by its md5
(``md5:<hash>``), in a dataset named by the output's path relative to the
repository root. Every pipeline stage becomes a job (``dvc.yaml:prepare``) with
one run per distinct set of dependency and output hashes, linking the
dependencies' versions to the outputs' versions.

The import is expressed as OpenLineage events fed to ``services.ingest_event``,
so a DVC output and an OpenLineage event carrying the same md5 in its
``version`` facet meet on the same dataset version. Event times and run ids are
derived from the revision and the hashes only, so importing the same revision
twice stores nothing new.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db import transaction

from lineage.services import ingest_cache, ingest_event

PRODUCER = "urn:govreg:lineage:import_dvc"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
DATASET_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"
_RUN_ID_NAMESPACE = uuid.UUID("0f9b1c2e-6d1a-4f0e-9a57-3c5d2b8e7a41")


class DvcImportError(Exception):
    """The path is not a DVC repository, or the revision does not exist."""


@dataclass
class DvcImportResult:
    revision: str | None
    events: int = 0
    stored: int = 0
    stages: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # dataset name -> version


def _facet(name: str, **fields) -> dict:
    return {
        "_producer": PRODUCER,
        "_schemaURL": f"https://openlineage.io/spec/facets/1-0-1/{name}.json#/$defs/{name}",
        **fields,
    }


def _version_of(hash_info) -> str | None:
    if hash_info is None or not hash_info.value:
        return None
    return f"{hash_info.name or 'md5'}:{hash_info.value}"


def _dataset(namespace: str, name: str, version: str | None) -> dict:
    facets = {}
    if version:
        facets["version"] = _facet("DatasetVersionDatasetFacet", datasetVersion=version)
    return {"namespace": namespace, "name": name, "facets": facets}


def _event_time(repo, rev: str | None) -> tuple[str, str | None]:
    """The commit's time (stable for a revision) and its hash; epoch without git."""
    try:
        commit = repo.scm.resolve_commit(rev or "HEAD")
        sha = repo.scm.resolve_rev(rev or "HEAD")
    except Exception:  # noqa: BLE001 - no git, or no commit yet: a fixed time keeps imports stable
        return datetime(1970, 1, 1, tzinfo=UTC).isoformat(), None
    return datetime.fromtimestamp(commit.commit_time, tz=UTC).isoformat(), sha


def _open(path: str, rev: str | None):
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        return Repo(str(path), rev=rev) if rev else Repo(str(path))
    except NotDvcRepoError as exc:
        raise DvcImportError(f"{path} is not a DVC repository: {exc}")
    except Exception as exc:  # scmrepo raises its own errors for unknown revisions
        raise DvcImportError(f"cannot open {path} at {rev or 'the workspace'}: {exc}")


def build_events(path: str | Path, namespace: str, rev: str | None = None):
    """OpenLineage events describing the repository at ``rev`` (the workspace when None)."""
    repo = _open(str(path), rev)
    try:
        event_time, sha = _event_time(repo, rev)
        root = repo.root_dir
        events = []
        for stage in sorted(repo.index.stages, key=lambda s: s.path_in_repo):
            outs = [
                (repo.fs.relpath(out.fs_path, root), _version_of(out.hash_info))
                for out in stage.outs
            ]
            if not getattr(stage, "cmd", None) or stage.is_data_source:
                for name, version in outs:
                    events.append(
                        {
                            "eventTime": event_time,
                            "producer": PRODUCER,
                            "schemaURL": DATASET_EVENT,
                            "dataset": _dataset(namespace, name, version),
                        }
                    )
                continue
            deps = [
                (repo.fs.relpath(dep.fs_path, root), _version_of(dep.hash_info))
                for dep in stage.deps
                if getattr(dep, "fs_path", None) and type(dep).__name__ != "ParamsDependency"
            ]
            job_name = f"{repo.fs.relpath(stage.dvcfile.path, root)}:{stage.name}"
            identity = "|".join(
                [namespace, job_name, *sorted(f"in {n}@{v}" for n, v in deps)]
                + sorted(f"out {n}@{v}" for n, v in outs)
            )
            run_id = str(uuid.uuid5(_RUN_ID_NAMESPACE, identity))
            job_facets = {}
            if stage.cmd:
                command = stage.cmd if isinstance(stage.cmd, str) else " && ".join(stage.cmd)
                job_facets["jobType"] = _facet(
                    "JobTypeJobFacet", processingType="BATCH", integration="DVC", jobType="STAGE"
                )
                job_facets["documentation"] = _facet(
                    "DocumentationJobFacet", description=f"dvc stage: {command}"
                )
            events.append(
                {
                    "eventType": "COMPLETE",
                    "eventTime": event_time,
                    "producer": PRODUCER,
                    "schemaURL": RUN_EVENT,
                    "run": {"runId": run_id, "facets": {}},
                    "job": {"namespace": namespace, "name": job_name, "facets": job_facets},
                    "inputs": [_dataset(namespace, n, v) for n, v in deps],
                    "outputs": [_dataset(namespace, n, v) for n, v in outs],
                }
            )
        return events, sha
    finally:
        repo.close()


def import_dvc(path: str | Path, namespace: str, rev: str | None = None) -> DvcImportResult:
    """Read the repository and ingest its events, each in a short transaction of its own
    (so a repository with thousands of outputs never holds the audit chain's lock for
    long). Idempotent: an interrupted import is completed by running it again."""
    from lineage.validation import validate_event

    events, sha = build_events(path, namespace, rev)
    for event in events:  # check all first: a bad event stores nothing
        validate_event(event)
    result = DvcImportResult(revision=sha or rev)
    with ingest_cache():
        for event in events:
            with transaction.atomic():
                outcome = ingest_event(event)
            result.events += 1
            result.stored += outcome.created
            if "job" in event and "run" in event:
                result.stages.append(event["job"]["name"])
            for spec in event.get("outputs") or ([event["dataset"]] if "dataset" in event else []):
                version = (spec["facets"].get("version") or {}).get("datasetVersion")
                if version:
                    result.outputs[spec["name"]] = version
    return result
