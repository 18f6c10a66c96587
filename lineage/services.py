"""The verbs of lineage: take an OpenLineage event in, change a dataset version's status.

``ingest_event`` stores the raw event once (a unique constraint on the hash of
its canonical JSON decides, so two clients retrying the same event at the same
moment cannot both store it) and, in the same transaction, projects it onto
namespaces, datasets, versions, jobs, runs and edges. Rows are fetched and
created per kind in bulk (a few queries per event, not one per dataset), and
creations use ``ignore_conflicts`` so concurrent writers of the same dataset
never fail each other.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils.dateparse import parse_datetime

from accounts.permissions import may_any
from audit.services import record
from lineage.choices import TERMINAL_RUN_STATES, EventKind, RunState, VersionStatus
from lineage.models import (
    ColumnLineage,
    Dataset,
    DatasetSymlink,
    DatasetVersion,
    FieldTag,
    Job,
    JobDataset,
    JobVersion,
    LineageEvent,
    Namespace,
    Run,
    RunInput,
    RunOutput,
    Tag,
)
from lineage.signals import dataset_version_status_changed, run_lineage_changed
from lineage.validation import event_kind

_HEX_DIGEST = re.compile(r"^[0-9a-f]{32}$")
_CANONICAL_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
# Facets that describe one event's change, not the dataset: never kept from an older event.
_TRANSIENT_FACETS = frozenset({"lifecycleStateChange"})


@dataclass
class IngestResult:
    """What one ingested event did. ``created`` is False when it was already stored."""

    event: LineageEvent
    created: bool
    run: Run | None = None
    job: Job | None = None
    inputs: list[DatasetVersion] = field(default_factory=list)
    outputs: list[DatasetVersion] = field(default_factory=list)


def canonical_json(event: dict) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(event: dict) -> str:
    """SHA-256 of the canonical JSON: key order and whitespace do not make a new event."""
    return hashlib.sha256(canonical_json(event).encode("utf-8")).hexdigest()


def parse_time(value) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = parse_datetime(str(value))
        if moment is None:
            raise ValidationError({"eventTime": f"{value!r} is not an ISO 8601 date-time"})
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def normalise_version(value: str) -> str:
    """A bare 32-hex digest is an md5, as DVC writes it: store it as ``md5:<hex>``."""
    value = str(value).strip()
    if _HEX_DIGEST.match(value.lower()):
        return f"md5:{value.lower()}"
    return value


def content_hash_of(version: str) -> str | None:
    """The content hash when the version names one (``<algorithm>:<digest>``)."""
    algorithm, sep, digest = version.partition(":")
    if sep and algorithm.lower() in {"md5", "sha1", "sha256", "sha512", "etag"} and digest:
        return f"{algorithm.lower()}:{digest}"
    return None


def run_uuid(run_id) -> uuid.UUID:
    """The UUID of an OpenLineage ``runId``: itself when it is a UUID, else a stable
    name-based UUID of its UTF-8 bytes (version 3, an MD5 of the bytes alone: Marquez
    derives it the same way, ``UUID.nameUUIDFromBytes``)."""
    text = str(run_id)
    if _CANONICAL_UUID.match(text):
        return uuid.UUID(text)
    return uuid.UUID(bytes=hashlib.md5(text.encode("utf-8")).digest(), version=3)  # noqa: S324


def _version_facet(dataset: dict) -> str | None:
    facet = (dataset.get("facets") or {}).get("version") or {}
    value = facet.get("datasetVersion")
    return normalise_version(value) if value else None


# --- bulk get-or-create helpers --------------------------------------------------


_MAX_PARAMS = 30000  # SQLite allows 32766 bound parameters per statement, PostgreSQL 65535


def insert_returning(objs, key_fields: tuple[str, ...]) -> dict[tuple, int]:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` for unsaved model instances.

    One round trip; a row whose unique key already exists is skipped (the
    database constraint decides, so concurrent writers never fail each other).
    Sets the pk of the inserted instances; returns ``{key: pk}`` for them.
    """
    objs = list(objs)
    if not objs:
        return {}
    meta = type(objs[0])._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    per_statement = max(1, _MAX_PARAMS // len(fields))
    if len(objs) > per_statement:  # stay under the databases' bound-parameter limits
        inserted = {}
        for start in range(0, len(objs), per_statement):
            inserted.update(insert_returning(objs[start : start + per_statement], key_fields))
        return inserted
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = []
    for obj in objs:
        params += [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    key_columns = [meta.get_field(name).column for name in key_fields]
    returning = ", ".join(connection.ops.quote_name(c) for c in [meta.pk.column, *key_columns])
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([placeholders] * len(objs))} "
        f"ON CONFLICT DO NOTHING RETURNING {returning}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    by_key = {
        tuple(str(v) if isinstance(v, uuid.UUID) else v for v in row[1:]): row[0] for row in rows
    }
    for obj in objs:
        key = tuple(_key_value(obj, name) for name in key_fields)
        if key in by_key:
            obj.pk = by_key[key]
            obj._state.adding = False
    return by_key


def _key_value(obj, name):
    value = getattr(obj, obj._meta.get_field(name).attname)
    return (
        value.hex
        if isinstance(value, uuid.UUID) and connection.vendor == "sqlite"
        else (str(value) if isinstance(value, uuid.UUID) else value)
    )


class IngestCache:
    """Namespaces, jobs and datasets already fetched by earlier events of one batch.

    The batch endpoint and the DVC import ingest each event in a transaction of
    its own; rows an event committed stay valid for the next ones, and the cache
    is cleared when an event's transaction rolls back, since rows it created are gone.
    """

    def __init__(self):
        self.rows: dict[tuple, object] = {}

    def clear(self) -> None:
        self.rows.clear()


_cache: ContextVar[IngestCache | None] = ContextVar("lineage_ingest_cache", default=None)


@contextmanager
def ingest_cache():
    """Share lookups between the events ingested inside this block (one batch)."""
    cache = IngestCache()
    token = _cache.set(cache)
    try:
        yield cache
    finally:
        _cache.reset(token)


def _cached(kind: str, keys) -> tuple[dict, set]:
    cache = _cache.get()
    if cache is None:
        return {}, set(keys)
    hits = {}
    for key in keys:
        row = cache.rows.get((kind, key))
        if row is not None:
            row._govreg_created = False
            hits[key] = row
    return hits, set(keys) - hits.keys()


def _remember(kind: str, rows: dict) -> None:
    cache = _cache.get()
    if cache is not None:
        cache.rows.update({(kind, key): row for key, row in rows.items()})


def ensure_namespaces(names) -> dict[str, Namespace]:
    hits, names = _cached("namespace", set(names))
    found = dict(hits)
    if not names:
        return found
    found.update({ns.name: ns for ns in Namespace.objects.filter(name__in=names)})
    missing = names - found.keys()
    if missing:
        created = [Namespace(name=n) for n in sorted(missing)]
        insert_returning(created, ("name",))
        found.update({ns.name: ns for ns in created if ns.pk})
        if missing - found.keys():  # written by a concurrent request meanwhile
            found.update({ns.name: ns for ns in Namespace.objects.filter(name__in=missing)})
    _remember("namespace", found)
    return found


def _ensure_named(
    model, keys: set[tuple[str, str]], namespaces: dict[str, Namespace], facets=None
) -> dict:
    """Datasets or jobs by ``(namespace name, name)``, created (with ``facets``) when missing."""
    if not keys:
        return {}
    kind = model._meta.model_name
    hits, keys = _cached(kind, keys)
    if not keys:
        return hits
    facets = facets or {}
    namespaces_by_id = {ns.pk: name for name, ns in namespaces.items()}

    def fetch(wanted):
        # Flat IN lists (a long OR chain overflows SQLite's expression depth), then the
        # exact pairs in Python.
        rows = model.objects.filter(
            namespace_id__in={namespaces[ns].pk for ns, _ in wanted},
            name__in={name for _, name in wanted},
        )
        found = {(namespaces_by_id[row.namespace_id], row.name): row for row in rows}
        return {key: row for key, row in found.items() if key in wanted}

    found = fetch(keys)
    missing = keys - found.keys()
    if missing:
        created = [
            model(namespace=namespaces[ns], name=name, facets=facets.get((ns, name)) or {})
            for ns, name in sorted(missing)
        ]
        insert_returning(created, ("namespace", "name"))
        found.update({(namespaces_by_id[r.namespace_id], r.name): r for r in created if r.pk})
        for row in created:
            row._govreg_created = bool(row.pk)
        if missing - found.keys():
            found.update(fetch(missing - found.keys()))
    for (ns, _), row in found.items():
        row.namespace = namespaces[ns]
    _remember(kind, found)
    return {**hits, **found}


def ensure_datasets(keys, namespaces, facets=None) -> dict[tuple[str, str], Dataset]:
    return _ensure_named(Dataset, set(keys), namespaces, facets)


def ensure_jobs(keys, namespaces, facets=None) -> dict[tuple[str, str], Job]:
    return _ensure_named(Job, set(keys), namespaces, facets)


def ensure_versions(wanted: dict[tuple[int, str], dict]) -> dict[tuple[int, str], DatasetVersion]:
    """Dataset versions by ``(dataset id, version)``; ``wanted`` maps each to its defaults."""
    if not wanted:
        return {}

    def fetch(keys):
        keys = set(keys)
        rows = DatasetVersion.objects.filter(
            dataset_id__in={d for d, _ in keys}, version__in={v for _, v in keys}
        )
        return {(v.dataset_id, v.version): v for v in rows if (v.dataset_id, v.version) in keys}

    found = fetch(wanted.keys())
    missing = wanted.keys() - found.keys()
    if missing:
        created = [
            DatasetVersion(dataset_id=dataset_id, version=version, **wanted[(dataset_id, version)])
            for dataset_id, version in sorted(missing)
        ]
        insert_returning(created, ("dataset", "version"))
        found.update({(v.dataset_id, v.version): v for v in created if v.pk})
        if missing - found.keys():
            found.update(fetch(missing - found.keys()))
    return found


def _merge_facets(current: dict, new: dict | None, *, newer: bool) -> dict:
    """Facets of a newer event replace same-named ones; an older event only fills gaps
    (never with a facet of one event's change, such as ``lifecycleStateChange``)."""
    if not new:
        return current
    merged = dict(current or {})
    for name, value in new.items():
        if newer or (name not in merged and name not in _TRANSIENT_FACETS):
            merged[name] = value
    return merged


def _lifecycle(spec: dict) -> str:
    facet = (spec.get("facets") or {}).get("lifecycleStateChange") or {}
    return str(facet.get("lifecycleStateChange") or "")[:32]


_DATASET_STATE = (
    "facets",
    "last_event_time",
    "lifecycle_state",
    "current_version_id",
    "current_version_time",
    "deleted_at",
)


def _update_datasets(datasets: dict, specs, event_time: datetime, written=None) -> None:
    """Bring datasets up to date with one event, by event time, not arrival order.

    ``specs`` are ``(dataset spec, is_output)`` pairs; ``written`` maps dataset ids to
    the version the event wrote. Facets of a newer event replace same-named ones (an
    older one only fills gaps); the lifecycle state is the newest write's; the current
    version is the one written by the newest event. An event naming a soft-deleted
    dataset brings it back. One UPDATE for all datasets that changed.
    """
    written = written or {}
    before = {row.pk: tuple(getattr(row, f) for f in _DATASET_STATE) for row in datasets.values()}
    for spec, is_output in specs:
        row = datasets[(spec["namespace"], spec["name"])]
        newer = row.last_event_time is None or event_time >= row.last_event_time
        if getattr(row, "_govreg_created", False) and row.last_event_time is None:
            merged = row.facets  # inserted with these facets a moment ago
        else:
            merged = _merge_facets(row.facets, spec.get("facets"), newer=newer)
        row.facets = merged
        if newer:
            row.last_event_time = event_time
            if is_output:
                row.lifecycle_state = _lifecycle(spec)
        version = written.get(row.pk)
        if version is not None and (
            row.current_version_time is None or event_time >= row.current_version_time
        ):
            row.current_version_id = version.pk
            row.current_version_time = event_time
        row.deleted_at = None
    changed = [
        row
        for row in datasets.values()
        if tuple(getattr(row, f) for f in _DATASET_STATE) != before[row.pk]
    ]
    if changed:  # in pk order, so concurrent writers lock rows in the same order
        changed.sort(key=lambda row: row.pk)
        fields = [f.removesuffix("_id") for f in _DATASET_STATE]
        Dataset.objects.bulk_update(changed, fields)


def _store_symlinks(datasets: dict, specs) -> None:
    """The ``symlinks`` facet's identifiers, so a read by any of them finds the dataset."""
    rows = []
    for spec in specs:
        facet = (spec.get("facets") or {}).get("symlinks") or {}
        for ident in facet.get("identifiers") or []:
            if isinstance(ident, dict) and ident.get("namespace") and ident.get("name"):
                rows.append(
                    DatasetSymlink(
                        dataset=datasets[(spec["namespace"], spec["name"])],
                        namespace=str(ident["namespace"])[:1024],
                        name=str(ident["name"])[:1024],
                        type=str(ident.get("type") or "")[:64],
                    )
                )
    if rows:
        DatasetSymlink.objects.bulk_create(rows, ignore_conflicts=True)


def _undelete(rows) -> None:
    """An event naming a soft-deleted namespace or job brings it back (as in Marquez)."""
    deleted = [row for row in rows if row.deleted_at is not None]
    for row in deleted:
        row.deleted_at = None
    if deleted:
        type(deleted[0]).objects.filter(pk__in=[r.pk for r in deleted]).update(deleted_at=None)


def _save_facets(rows, facets_by_row, *, newer: bool) -> None:
    """Merge new facets into existing rows; one UPDATE per model for all that changed."""
    changed = []
    for row in rows:
        if getattr(row, "_govreg_created", False):
            continue  # inserted with these facets a moment ago
        new = facets_by_row.get(row.pk)
        merged = _merge_facets(row.facets, new, newer=newer)
        if merged != row.facets:
            row.facets = merged
            changed.append(row)
    if changed:  # in pk order, so concurrent writers lock rows in the same order
        changed.sort(key=lambda row: row.pk)
        type(changed[0]).objects.bulk_update(changed, ["facets"])


# --- ingestion ----------------------------------------------------------------------


def store_raw_event(event: dict, kind: str, event_time: datetime) -> tuple[LineageEvent, bool]:
    """Insert the raw event; ``(existing, False)`` when the same body is already stored.

    The unique constraint decides (no check-then-insert): ``ON CONFLICT DO
    NOTHING`` skips the insert when the same body is stored, even by a
    concurrent request (PostgreSQL waits for that one to commit or roll back).
    """
    digest = event_hash(event)
    run_id = (event.get("run") or {}).get("runId")
    job = event.get("job") or {}
    row = LineageEvent(
        body=event,
        body_hash=digest,
        kind=kind,
        event_type=str(event.get("eventType") or "")[:16],
        event_time=event_time,
        run_id=run_uuid(run_id) if run_id else None,
        job_namespace=str(job.get("namespace") or "")[:1024],
        job_name=str(job.get("name") or "")[:1024],
        producer=str(event.get("producer") or "")[:2048],
    )
    if not insert_returning([row], ("body_hash",)):
        existing = LineageEvent.objects.filter(body_hash=digest).first()
        if existing is None:  # the other writer rolled back meanwhile: try once more
            if not insert_returning([row], ("body_hash",)):
                raise IntegrityError("lineage event insert conflicted twice")
            return row, True
        return existing, False
    return row, True


@transaction.atomic(savepoint=False)
def ingest_event(event: dict) -> IngestResult:
    """Store one validated OpenLineage event and project it onto the lineage records.

    Idempotent: an event already stored (same canonical body) changes nothing
    and returns ``created=False``. Run state follows event time, so events may
    arrive in any order. Runs in the caller's transaction (no savepoint of its
    own: the batch endpoint and the DVC import give each event a transaction of
    its own); an error rolls it back. The audit event is written last, so the
    chain's lock is held only from there to the commit.
    """
    kind = event_kind(event)
    event_time = parse_time(event.get("eventTime"))
    if event_time is None:
        raise ValidationError({"eventTime": "This field is required."})
    raw, created = store_raw_event(event, kind, event_time)
    if not created:
        return IngestResult(event=raw, created=False)

    if kind == EventKind.DATASET:
        result = _project_dataset_event(event, raw, event_time)
    elif kind == EventKind.JOB:
        result = _project_job_event(event, raw, event_time)
    else:
        result = _project_run_event(event, raw, event_time)
        if result.inputs or result.outputs:
            run_lineage_changed.send(
                sender=Run, run=result.run, dataset_version_ids=[v.pk for v in result.outputs]
            )
    record(
        "lineage.ingest",
        obj=raw,
        after={
            "kind": kind,
            "eventType": raw.event_type,
            "runId": str(raw.run_id) if raw.run_id else None,
            "job": f"{raw.job_namespace}:{raw.job_name}" if raw.job_name else None,
            "bodyHash": raw.body_hash,
        },
    )
    return result


def _dataset_keys(datasets) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


def _column_lineage_inputs(outputs) -> list[tuple[str, str]]:
    keys = []
    for dataset in outputs:
        facet = (dataset.get("facets") or {}).get("columnLineage") or {}
        for spec in (facet.get("fields") or {}).values():
            for source in spec.get("inputFields") or []:
                keys.append((source["namespace"], source["name"]))
    return keys


def _project_dataset_event(event: dict, raw: LineageEvent, event_time: datetime) -> IngestResult:
    """A DatasetEvent: the dataset's facets (schema, symlinks, ...) by event time, and its
    version when the ``version`` facet names one (then the current version)."""
    spec = event["dataset"]
    namespaces = ensure_namespaces([spec["namespace"]])
    _undelete(namespaces.values())
    datasets = ensure_datasets(
        _dataset_keys([spec]), namespaces, {(spec["namespace"], spec["name"]): spec.get("facets")}
    )
    row = datasets[(spec["namespace"], spec["name"])]
    versions = []
    version = _version_facet(spec)
    if version:
        versions = list(
            ensure_versions(
                {
                    (row.pk, version): {
                        "content_hash": content_hash_of(version),
                        "facets": spec.get("facets") or {},
                        "lifecycle_state": _lifecycle(spec),
                    }
                }
            ).values()
        )
    _update_datasets(
        datasets, [(spec, True)], event_time, {row.pk: versions[0]} if versions else None
    )
    _store_symlinks(datasets, [spec])
    return IngestResult(event=raw, created=True, outputs=versions)


def _project_job_event(event: dict, raw: LineageEvent, event_time: datetime) -> IngestResult:
    """A JobEvent: the job's facets, and its inputs and outputs as the job's declared
    lineage (the newest JobEvent by event time decides the declared set)."""
    job_spec = event["job"]
    inputs = list(event.get("inputs") or [])
    outputs = list(event.get("outputs") or [])
    io = inputs + outputs
    namespaces = ensure_namespaces([job_spec["namespace"], *(d["namespace"] for d in io)])
    _undelete(namespaces.values())
    job = ensure_jobs([(job_spec["namespace"], job_spec["name"])], namespaces)[
        (job_spec["namespace"], job_spec["name"])
    ]
    newer = job.declared_time is None or event_time >= job.declared_time
    _save_facets([job], {job.pk: job_spec.get("facets")}, newer=newer)
    _undelete([job])
    datasets = ensure_datasets(
        _dataset_keys(io), namespaces, {(d["namespace"], d["name"]): d.get("facets") for d in io}
    )
    _update_datasets(
        datasets, [(d, False) for d in inputs] + [(d, True) for d in outputs], event_time
    )
    _store_symlinks(datasets, io)
    if newer:
        Job.objects.filter(pk=job.pk).update(declared_time=event_time)
        job.declared_time = event_time
        JobDataset.objects.filter(job=job).delete()
        JobDataset.objects.bulk_create(
            [
                JobDataset(job=job, dataset=datasets[(d["namespace"], d["name"])], direction=way)
                for way, specs in ((JobDataset.INPUT, inputs), (JobDataset.OUTPUT, outputs))
                for d in specs
            ],
            ignore_conflicts=True,
        )
    return IngestResult(event=raw, created=True, job=job)


def _placeholder_run(run_id: str, job: Job) -> Run:
    """A run known only by reference (a parent): created bare (``NEW``), filled by its
    own events."""
    key = run_uuid(run_id)
    candidate = Run(run_id=key, source_run_id=str(run_id), job=job)
    if insert_returning([candidate], ("run_id",)):
        return candidate
    return Run.objects.get(run_id=key)


def _apply_state(run: Run, event_type: str, event_time: datetime) -> bool:
    """Move the run's state by event time (an end is final); True if the event is the
    newest the run has seen."""
    state = event_type if event_type in RunState.values else RunState.OTHER
    last = run.last_event_time
    newer = (
        last is None
        or event_time > last
        or (
            event_time == last
            and state in TERMINAL_RUN_STATES
            and run.state not in TERMINAL_RUN_STATES
        )
    )
    terminal = state in TERMINAL_RUN_STATES
    if terminal:
        # the end of a run wins over any non-terminal state, whichever arrived or happened
        # later; between two ends, the later one by event time
        if (
            run.state not in TERMINAL_RUN_STATES
            or run.ended_at is None
            or event_time >= run.ended_at
        ):
            run.state = state
            run.ended_at = event_time
    elif newer and state != RunState.OTHER and run.state not in TERMINAL_RUN_STATES:
        run.state = state  # a terminal state stays terminal: a late RUNNING never reopens
    if newer:
        run.last_event_time = event_time
    if state == RunState.START and (run.started_at is None or event_time < run.started_at):
        run.started_at = event_time
    return newer


def _project_run_event(event: dict, raw: LineageEvent, event_time: datetime) -> IngestResult:
    job_spec = event["job"]
    run_spec = event["run"]
    run_facets = run_spec.get("facets") or {}
    inputs = list(event.get("inputs") or [])
    outputs = list(event.get("outputs") or [])
    # ``parentRun``: the name older Airflow integrations gave the parent facet
    parent = run_facets.get("parent") or run_facets.get("parentRun") or {}
    parent_job = parent.get("job") if isinstance(parent, dict) else None
    if not (
        isinstance(parent_job, dict) and parent_job.get("namespace") and parent_job.get("name")
    ):
        parent_job = {}
    if not isinstance((parent or {}).get("run"), dict):
        parent = {}

    ns_names = {job_spec["namespace"], *(d["namespace"] for d in inputs + outputs)}
    column_sources = _column_lineage_inputs(outputs)
    ns_names.update(ns for ns, _ in column_sources)
    if parent_job:
        ns_names.add(parent_job["namespace"])
    namespaces = ensure_namespaces(ns_names)

    job_keys = {(job_spec["namespace"], job_spec["name"])}
    if parent_job:
        job_keys.add((parent_job["namespace"], parent_job["name"]))
    jobs = ensure_jobs(
        job_keys, namespaces, {(job_spec["namespace"], job_spec["name"]): job_spec.get("facets")}
    )
    job = jobs[(job_spec["namespace"], job_spec["name"])]

    parent_row = None
    if parent and parent.get("run", {}).get("runId") and parent_job:
        parent_run_id = str(parent["run"]["runId"])
        if run_uuid(parent_run_id) != run_uuid(run_spec["runId"]):
            parent_row = _placeholder_run(
                parent_run_id, jobs[(parent_job["namespace"], parent_job["name"])]
            )

    def fill(run: Run) -> bool:
        newer = _apply_state(run, raw.event_type, event_time)
        nominal = run_facets.get("nominalTime") or {}
        if nominal.get("nominalStartTime"):
            run.nominal_start_time = parse_time(nominal["nominalStartTime"])
        if nominal.get("nominalEndTime"):
            run.nominal_end_time = parse_time(nominal["nominalEndTime"])
        run.facets = _merge_facets(run.facets, run_facets, newer=newer)
        if parent_row is not None:
            run.parent = parent_row
        return newer

    # Insert first: a new run costs one statement; a known one is locked and updated.
    key = run_uuid(run_spec["runId"])
    run = Run(run_id=key, source_run_id=str(run_spec["runId"]), job=job, facets={})
    newer = fill(run)
    run_created = bool(insert_returning([run], ("run_id",)))
    if not run_created:
        run = Run.objects.select_for_update().get(run_id=key)
        newer = fill(run)
        run.save()
    if not getattr(job, "_govreg_created", False):
        _save_facets([job], {job.pk: job_spec.get("facets")}, newer=newer)

    datasets = ensure_datasets(
        _dataset_keys(inputs + outputs) + column_sources,
        namespaces,
        {(d["namespace"], d["name"]): d.get("facets") for d in inputs + outputs},
    )

    # Versions: an output is its content hash, else "the version this run wrote".
    wanted: dict[tuple[int, str], dict] = {}
    output_keys = []
    for spec in outputs:
        dataset = datasets[(spec["namespace"], spec["name"])]
        version = _version_facet(spec) or str(run.run_id)
        key = (dataset.pk, version)
        output_keys.append((key, spec))
        wanted[key] = {
            "content_hash": content_hash_of(version),
            "producing_run": run,
            "facets": spec.get("facets") or {},
            "lifecycle_state": _lifecycle(spec),
        }
    input_keys = []
    unversioned_inputs = []
    for spec in inputs:
        dataset = datasets[(spec["namespace"], spec["name"])]
        version = _version_facet(spec)
        if version:
            key = (dataset.pk, version)
            input_keys.append((key, spec))
            wanted.setdefault(
                key, {"content_hash": content_hash_of(version), "facets": spec.get("facets") or {}}
            )
        else:
            unversioned_inputs.append((dataset, spec))
    if unversioned_inputs:
        resolved = _resolve_unversioned_inputs(run, unversioned_inputs, new_run=run_created)
        for key, spec in resolved:
            input_keys.append((key, spec))
            wanted.setdefault(key, {"facets": spec.get("facets") or {}})
    versions = ensure_versions(wanted)

    # A version first seen as an input gets its producer when a run writes it.
    orphan_ids = [
        versions[key].pk for key, _ in output_keys if versions[key].producing_run_id is None
    ]
    if orphan_ids:
        DatasetVersion.objects.filter(pk__in=orphan_ids, producing_run__isnull=True).update(
            producing_run=run
        )

    RunInput.objects.bulk_create(
        [
            RunInput(run=run, dataset_version=versions[key], facets=spec.get("inputFacets") or {})
            for key, spec in input_keys
        ],
        ignore_conflicts=True,
    )
    RunOutput.objects.bulk_create(
        [
            RunOutput(run=run, dataset_version=versions[key], facets=spec.get("outputFacets") or {})
            for key, spec in output_keys
        ],
        ignore_conflicts=True,
    )
    _store_column_lineage(output_keys, versions, datasets)
    _update_datasets(
        datasets,
        [(d, False) for d in inputs] + [(d, True) for d in outputs],
        event_time,
        {key[0]: versions[key] for key, _ in output_keys},
    )
    _store_symlinks(datasets, inputs + outputs)
    _undelete([job, *namespaces.values()])
    if raw.event_type in TERMINAL_RUN_STATES:
        _record_job_version(run, job, job_spec, newer=newer)
    return IngestResult(
        event=raw,
        created=True,
        run=run,
        job=job,
        inputs=[versions[key] for key, _ in input_keys],
        outputs=[versions[key] for key, _ in output_keys],
    )


def job_version_uuid(job: Job, location: str, inputs, outputs) -> uuid.UUID:
    """A name-based UUID of the job's identity, source location, inputs and outputs."""
    text = "|".join(
        [
            job.namespace.name,
            job.name,
            location,
            ",".join(f"{ns}:{name}" for ns, name in sorted(inputs)),
            ",".join(f"{ns}:{name}" for ns, name in sorted(outputs)),
        ]
    )
    return uuid.UUID(bytes=hashlib.md5(text.encode("utf-8")).digest(), version=3)  # noqa: S324


def _record_job_version(run: Run, job: Job, job_spec: dict, *, newer: bool) -> None:
    """When a run ends: the job version it ran (location, every dataset it read and
    wrote), created once; it becomes the job's current version if the event is newest."""
    facets = job_spec.get("facets") or job.facets or {}
    location = str((facets.get("sourceCodeLocation") or {}).get("url") or "")[:2048]
    io = []
    for model in (RunInput, RunOutput):
        io.append(
            sorted(
                set(
                    model.objects.filter(run=run).values_list(
                        "dataset_version__dataset__namespace__name",
                        "dataset_version__dataset__name",
                    )
                )
            )
        )
    version = job_version_uuid(job, location, *io)
    row = JobVersion(
        job=job,
        version=version,
        location=location,
        inputs=[{"namespace": ns, "name": name} for ns, name in io[0]],
        outputs=[{"namespace": ns, "name": name} for ns, name in io[1]],
    )
    if not insert_returning([row], ("job", "version")):
        row = JobVersion.objects.get(job=job, version=version)
    if run.job_version_id != row.pk:
        Run.objects.filter(pk=run.pk).update(job_version=row)
        run.job_version = row
    if (newer or job.current_version_id is None) and job.current_version_id != row.pk:
        Job.objects.filter(pk=job.pk).update(current_version=row)
        job.current_version = row


def _resolve_unversioned_inputs(run: Run, items, *, new_run: bool = False):
    """An input without a version facet is the version this run already reads, else the
    dataset's latest version, else a first version named ``initial``."""
    dataset_ids = [dataset.pk for dataset, _ in items]
    already = {}
    if not new_run:
        already = dict(
            RunInput.objects.filter(
                run=run, dataset_version__dataset_id__in=dataset_ids
            ).values_list("dataset_version__dataset_id", "dataset_version__version")
        )
    latest = {}
    rest = [pk for pk in dataset_ids if pk not in already]
    if rest:
        for dataset_id, version in (
            DatasetVersion.objects.filter(dataset_id__in=rest)
            .order_by("dataset_id", "-created_at", "-pk")
            .values_list("dataset_id", "version")
        ):
            latest.setdefault(dataset_id, version)
    for dataset, spec in items:
        version = already.get(dataset.pk) or latest.get(dataset.pk) or "initial"
        yield (dataset.pk, version), spec


def _store_column_lineage(output_keys, versions, datasets) -> None:
    rows = []
    for key, spec in output_keys:
        facet = (spec.get("facets") or {}).get("columnLineage") or {}
        for output_field, field_spec in (facet.get("fields") or {}).items():
            for source in field_spec.get("inputFields") or []:
                rows.append(
                    ColumnLineage(
                        dataset_version=versions[key],
                        output_field=output_field,
                        input_dataset=datasets[(source["namespace"], source["name"])],
                        input_field=source["field"],
                        transformations=source.get("transformations")
                        or (
                            [field_spec["transformationType"]]
                            if field_spec.get("transformationType")
                            else []
                        ),
                    )
                )
    if rows:
        ColumnLineage.objects.bulk_create(rows, ignore_conflicts=True)


# --- dataset version governance --------------------------------------------------------

# Who governs dataset versions: ``accounts.permissions`` (ml-engineers and admins, or the
# model permission); the board and auditors read, never write (the admin included).
NOTE_FIELDS = ("privacy_notes", "consent_notes", "licence_notes")


def change_dataset_version(
    dataset_version: DatasetVersion, *, actor, status: str | None = None, **notes
) -> DatasetVersion:
    """Change a version's status and/or notes: locked, validated, audited, signalled.

    ``dataset_version_status_changed`` is sent inside this transaction (see
    ``lineage.signals``) when the status actually changes.
    """
    if not may_any(actor, "change", DatasetVersion):
        raise PermissionDenied("You may not change the status of dataset versions.")
    unknown = set(notes) - set(NOTE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    if status is not None and status not in VersionStatus.values:
        raise ValidationError(
            {"status": f"{status!r} is not one of {', '.join(VersionStatus.values)}."}
        )
    with transaction.atomic():
        locked = DatasetVersion.objects.select_for_update().get(pk=dataset_version.pk)
        before = {"status": locked.status, **{n: getattr(locked, n) for n in NOTE_FIELDS}}
        old_status = locked.status
        if status is not None:
            locked.status = status
        for name, value in notes.items():
            setattr(locked, name, value or "")
        after = {"status": locked.status, **{n: getattr(locked, n) for n in NOTE_FIELDS}}
        if after == before:
            return locked
        locked.full_clean()
        locked.save(update_fields=["status", *NOTE_FIELDS, "updated_at"])
        action = (
            "lineage.dataset_version.status"
            if old_status != locked.status
            else "lineage.dataset_version.notes"
        )
        record(action, obj=locked, before=before, after=after)
        if old_status != locked.status:
            dataset_version_status_changed.send(
                sender=DatasetVersion,
                dataset_version=locked,
                old_status=old_status,
                new_status=locked.status,
                actor=actor,
            )
    dataset_version.__dict__.update(
        {k: getattr(locked, k) for k in ("status", *NOTE_FIELDS, "updated_at")}
    )
    return locked


# --- Marquez's writes: tags and soft deletes ------------------------------------------------


def _may_write_lineage(actor) -> None:
    if not may_any(actor, "add", LineageEvent):
        raise PermissionDenied("Writing lineage needs the pipeline or ml-engineer role.")


def upsert_tag(name: str, description: str | None, *, actor) -> Tag:
    """Create a tag (or change its description); audited."""
    _may_write_lineage(actor)
    name = str(name).strip()
    if not name or len(name) > 255:
        raise ValidationError({"tag": "A tag name is 1 to 255 characters."})
    with transaction.atomic():
        tag, created = Tag.objects.select_for_update().get_or_create(name=name)
        before = None if created else {"description": tag.description}
        if description is not None and description != tag.description:
            tag.description = description
            tag.save(update_fields=["description", "updated_at"])
        elif not created:
            return tag
        record("lineage.tag", obj=tag, before=before, after={"description": tag.description})
    return tag


def tag_dataset(dataset: Dataset, tag_name: str, *, actor, field: str | None = None) -> Dataset:
    """Tag a dataset, or one of its fields (the tag is created when new); audited."""
    _may_write_lineage(actor)
    if field is not None:
        fields = {
            f.get("name") for f in ((dataset.facets or {}).get("schema") or {}).get("fields") or []
        }
        if field not in fields:
            raise ValidationError({"field": f"Dataset {dataset.name!r} has no field {field!r}."})
    with transaction.atomic():
        tag, _ = Tag.objects.get_or_create(name=str(tag_name).strip()[:255])
        if field is None:
            dataset.tags.add(tag)
        else:
            FieldTag.objects.get_or_create(dataset=dataset, field=field, tag=tag)
        record(
            "lineage.dataset.tag",
            obj=dataset,
            after={"tag": tag.name, **({"field": field} if field is not None else {})},
        )
    return dataset


def lineage_delete(target, *, actor):
    """Soft-delete a namespace (and every job and dataset in it), a dataset or a job.

    Admins only; audited. Lists leave it out; the next event naming it brings it back,
    as in Marquez. Nothing is removed: versions, runs and edges stay for the audit trail.
    """
    if not may_any(actor, "delete", type(target)):
        raise PermissionDenied("Only administrators delete lineage records.")
    now = datetime.now(UTC)
    with transaction.atomic():
        type(target).objects.filter(pk=target.pk).update(deleted_at=now)
        target.deleted_at = now
        after = {"deletedAt": now.isoformat()}
        if isinstance(target, Namespace):
            after["datasets"] = Dataset.objects.filter(
                namespace=target, deleted_at__isnull=True
            ).update(deleted_at=now)
            after["jobs"] = Job.objects.filter(namespace=target, deleted_at__isnull=True).update(
                deleted_at=now
            )
        record(f"lineage.{type(target)._meta.model_name}.delete", obj=target, after=after)
    return target
