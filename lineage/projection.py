"""Projecting OpenLineage events onto the lineage records, a batch at a time, set-based.

``project_events`` takes validated events and, in the caller's transaction,
stores the raw events (one multi-row ``INSERT ... ON CONFLICT DO NOTHING``) and
projects the new ones: one pass over the batch collects every namespace, job,
dataset, run, version and edge it names; each table is then read once and
written once (multi-row inserts that let the unique constraints decide, one
``UPDATE`` per table for the rows that changed), whatever the batch's size.

The result is the one ingesting the events one by one, in arrival order, would
give: run state by event time (an end is final), dataset facets and current
version by event time, a version first read then written gets its producer, an
input without a version facet is the version its run already reads, else the
dataset's latest (one written earlier in the batch included), else
``initial``. Rows are written in key order so concurrent batches lock them in
the same order. The audit events of the batch are appended last, in one
statement, so the chain's lock is held only from there to the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.utils import timezone

from audit.services import append_call, record, record_many
from config.statements import pg_execute
from lineage.choices import TERMINAL_RUN_STATES, EventKind
from lineage.models import (
    ColumnLineage,
    Dataset,
    DatasetSymlink,
    DatasetVersion,
    Job,
    JobDataset,
    JobVersion,
    LineageEvent,
    Namespace,
    PendingProjection,
    Run,
    RunInput,
    RunOutput,
)
from lineage.services import (
    _DATASET_STATE,
    IngestResult,
    _apply_state,
    _column_lineage_inputs,
    _lifecycle,
    _merge_facets,
    _set_pks,
    _version_facet,
    compiled,
    content_hash_of,
    ensure_datasets,
    ensure_jobs,
    ensure_namespaces,
    hashed_event,
    insert_returning,
    insert_rows,
    job_version_uuid,
    materialise,
    parse_time,
    pg_array_type,
    pg_execute_together,
    pg_insert_statement,
    pg_json,
    pg_pipeline,
    pg_prep,
    run_uuid,
)
from lineage.signals import run_lineage_changed
from lineage.validation import event_kind

_RUN_STATE = (
    "state",
    "nominal_start_time",
    "nominal_end_time",
    "started_at",
    "ended_at",
    "last_event_time",
    "facets",
    "parent_id",
    "job_version_id",
)
_JOB_STATE = ("facets", "declared_time", "current_version_id", "deleted_at")


@dataclass
class _Item:
    """One event of the batch and what the projection made of it."""

    index: int
    event: dict
    kind: str
    time: datetime
    raw: LineageEvent | None = None
    created: bool = False
    run: Run | None = None
    job: Job | None = None
    newer: bool = False
    parent_key: object = None
    inputs: list = field(default_factory=list)  # [(version key, spec)]
    outputs: list = field(default_factory=list)
    job_version_key: tuple | None = None
    ns_names: set = field(default_factory=set)
    versions: dict = field(default_factory=dict)

    def result(self) -> IngestResult:
        return IngestResult(
            event=self.raw,
            created=self.created,
            run=self.run,
            job=self.job,
            inputs=[self.versions[key] for key, _ in self.inputs] if self.created else [],
            outputs=[self.versions[key] for key, _ in self.outputs] if self.created else [],
        )


def _key(spec: dict) -> tuple[str, str]:
    return spec["namespace"], spec["name"]


def _io(event: dict) -> tuple[list, list]:
    if event_kind(event) == EventKind.DATASET:
        return [], [event["dataset"]]
    return list(event.get("inputs") or []), list(event.get("outputs") or [])


def _location(job_facets: dict | None) -> str:
    """The job's source code location, part of its version's identity."""
    return str(((job_facets or {}).get("sourceCodeLocation") or {}).get("url") or "")[:2048]


def _parent(event: dict) -> tuple[dict, dict]:
    """The ``parent`` run facet (``parentRun``: older Airflow integrations' name), as
    ``(parent facet, parent job)``, both empty unless well formed."""
    facets = event["run"].get("facets") or {}
    parent = facets.get("parent") or facets.get("parentRun") or {}
    parent_job = parent.get("job") if isinstance(parent, dict) else None
    if not (
        isinstance(parent_job, dict) and parent_job.get("namespace") and parent_job.get("name")
    ):
        parent_job = {}
    if not isinstance((parent or {}).get("run"), dict):
        parent = {}
    return parent, parent_job


def update_rows(
    objs: list, field_names: list[str], *, defer: list | None = None, before: dict | None = None
) -> None:
    """Write ``field_names`` of model instances (one model) in one statement.

    On PostgreSQL ``UPDATE ... FROM unnest(<one array per column>)`` in pk order
    (collected in ``defer`` for ``pg_execute_together`` when given); Django's
    ``bulk_update`` (a CASE per column and row, costly to build) elsewhere.
    ``before`` (pk -> {JSON field name: value as read}) spares sending a JSON
    value that did not change: NULL is sent and the column keeps its value.
    """
    if not objs:
        return
    objs = sorted(objs, key=lambda obj: obj.pk)  # concurrent writers lock in the same order
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, field_names)
        return
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    qn = connection.ops.quote_name
    columns = [meta.pk, *fields]
    before = before or {}
    kept = {f.name for f in fields if f.get_internal_type() == "JSONField" and not f.null}

    def value(obj, f):
        current = getattr(obj, f.attname)
        if f.name in kept and current == before.get(obj.pk, {}).get(f.name, _MISSING):
            return None  # unchanged: the column keeps its value
        return pg_prep(f, current)

    params = [[obj.pk for obj in objs]]
    params += [[value(obj, f) for obj in objs] for f in fields]
    arrays = ", ".join(f"%b::{pg_array_type(column)}" for column in columns)
    names = ", ".join(qn(c.column) for c in columns)
    table = qn(meta.db_table)
    sets = ", ".join(
        f"{qn(f.column)} = COALESCE(v.{qn(f.column)}, {table}.{qn(f.column)})"
        if f.name in kept
        else f"{qn(f.column)} = v.{qn(f.column)}"
        for f in fields
    )
    pk = qn(meta.pk.column)
    sql = (
        f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v({names}) "  # noqa: S608
        f"WHERE {table}.{pk} = v.{pk}"
    )
    if defer is not None:
        defer.append((sql, params))
    else:
        pg_execute(sql, params)


_MISSING = object()


# --- raw events -------------------------------------------------------------------------


def _raw_row(item: _Item, digest: str) -> LineageEvent:
    """The unsaved raw event of ``item`` (its body hash ``digest``)."""
    event = item.event
    run_id = (event.get("run") or {}).get("runId")
    job = event.get("job") or {}
    return LineageEvent(
        body=event,
        body_hash=digest,
        kind=item.kind,
        event_type=str(event.get("eventType") or "")[:16],
        event_time=item.time,
        run_id=run_uuid(run_id) if run_id else None,
        job_namespace=str(job.get("namespace") or "")[:1024],
        job_name=str(job.get("name") or "")[:1024],
        producer=str(event.get("producer") or "")[:2048],
    )


def _queued_insert(rows: list[LineageEvent], prepared: dict | None = None) -> tuple[str, list]:
    """``WITH`` clauses (PostgreSQL) inserting the raw events and a queue row for each
    one inserted: ``raw`` holds the inserted events' id and body hash, for the
    statement's ``SELECT`` to name (``prepared`` as ``pg_insert_statement``'s)."""
    sql, params = pg_insert_statement(rows, ("body_hash",), prepared=prepared)
    queue_table = connection.ops.quote_name(PendingProjection._meta.db_table)
    return (
        f"WITH raw AS ({sql}), queued AS (INSERT INTO {queue_table} "  # noqa: S608
        "(event_id, queued_at) SELECT id, statement_timestamp() FROM raw)",
        params,
    )


def _store_raw(items: list[_Item], known: _Known | None = None, *, pending=False) -> None:
    """Insert the raw events; an event whose body is already stored (or appears earlier
    in the batch) is a duplicate. The unique constraint on the body hash decides.
    With ``known`` (PostgreSQL), its reads travel in the same round trip; with
    ``pending``, each new event gets its queue row (``PendingProjection``)."""
    first: dict[str, _Item] = {}
    digests = []
    rows = []
    texts = []  # the canonical JSON hashed, sent as the body: each event written once
    for item in items:
        digest, text = hashed_event(item.event)
        digests.append(digest)
        if digest in first:
            continue
        first[digest] = item
        item.raw = _raw_row(item, digest)
        rows.append(item.raw)
        texts.append(text)
    queue: list[LineageEvent] = []
    postgres = connection.vendor == "postgresql"
    prepared = {"body": [pg_json(text) for text in texts]} if postgres else None
    if pending and postgres:  # both inserts in one statement
        sql, params = _queued_insert(rows, prepared)
        found = pg_execute(f"{sql} SELECT * FROM raw", params)  # noqa: S608
        inserted = {key[0] for key in _set_pks(rows, ("body_hash",), found)}
    elif known is None:
        inserted = {key[0] for key in insert_returning(rows, ("body_hash",))}
        if pending:
            queue = [row for row in rows if row.body_hash in inserted]
    else:
        answers = pg_pipeline(
            [
                (*pg_insert_statement(rows, ("body_hash",), prepared=prepared), True),
                *known.statements(),
            ]
        )
        inserted = {key[0] for key in _set_pks(rows, ("body_hash",), answers[0])}
        known.take(answers[1:])
    conflicted = [row for row in rows if row.body_hash not in inserted]
    if conflicted:
        existing = {
            row.body_hash: row
            for row in LineageEvent.objects.filter(body_hash__in=[r.body_hash for r in conflicted])
        }
        retry = [row for row in conflicted if row.body_hash not in existing]
        if retry:  # the other writer rolled back meanwhile: try once more
            again = insert_returning(retry, ("body_hash",))
            if len(again) != len(retry):
                raise IntegrityError("lineage event insert conflicted twice")
            inserted.update(key[0] for key in again)
            if pending:
                queue += retry
        for digest, row in existing.items():
            first[digest].raw = row
    if queue:
        PendingProjection.objects.bulk_create([PendingProjection(event_id=row.pk) for row in queue])
    for item, digest in zip(items, digests, strict=True):
        origin = first[digest]
        item.raw = origin.raw
        item.created = item is origin and digest in inserted


def _ingest_audit(raw: LineageEvent) -> dict:
    """What the ``lineage.ingest`` audit event of a stored raw event says of it."""
    return {
        "kind": raw.kind,
        "eventType": raw.event_type,
        "runId": str(raw.run_id) if raw.run_id else None,
        "job": f"{raw.job_namespace}:{raw.job_name}" if raw.job_name else None,
        "bodyHash": raw.body_hash,
    }


def audit_ingested(items) -> None:
    """The ``lineage.ingest`` audit events of newly stored raw events (``items`` with
    ``raw``), in one append: who sent which event, by its body hash."""
    audits = [
        {"action": "lineage.ingest", "obj": item.raw, "after": _ingest_audit(item.raw)}
        for item in items
    ]
    if len(audits) == 1:
        record(**audits[0])
    elif audits:
        record_many(audits)


# --- the projection ---------------------------------------------------------------------


def project_events(events: list[dict]) -> list[IngestResult]:
    """Store and project validated events, in the caller's transaction; one result per
    event, in order (``created`` False for an event already stored). An error (a
    ``ValidationError`` or a database error) leaves the caller to roll back."""
    items = items_of(events)
    if not items:
        return []
    known = _Known(items) if connection.vendor == "postgresql" else None
    _store_raw(items, known)
    new = [item for item in items if item.created]
    versions: dict = {}  # (dataset id, version) -> DatasetVersion, shared by the items
    for item in items:
        item.versions = versions
    if new:
        _Projection(new, versions, known).run()
        audit_ingested(new)  # last: the chain's lock is held only from here to the commit
    return [item.result() for item in items]


def items_of(events: list[dict]) -> list[_Item]:
    """The batch's items, each with its event time (a ``ValidationError`` without one)."""
    items = []
    for index, event in enumerate(events):
        moment = parse_time(event.get("eventTime"))
        if moment is None:
            raise ValidationError({"eventTime": "This field is required."})
        items.append(_Item(index, event, event_kind(event), moment))
    return items


def store_pending(events: list[dict]) -> list[IngestResult]:
    """Store validated events for the queued projection (``lineage.queue``), in the
    caller's transaction: the raw events and, for each new one, its queue row and its
    ``lineage.ingest`` audit event; nothing is projected. One result per event, in
    order (``created`` False for an event already stored, which is not queued again)."""
    items = items_of(events)
    if not items:
        return []
    _store_raw(items, pending=True)
    audit_ingested([item for item in items if item.created])
    return [IngestResult(event=item.raw, created=item.created) for item in items]


def store_pending_one(event: dict) -> IngestResult | None:
    """The queued intake of one validated event in ONE statement on PostgreSQL, so it
    needs no transaction of the caller's (autocommit is atomic enough): the raw
    event, its queue row and its ``lineage.ingest`` audit event are written together
    or not at all (``audit.services.append_call``). None where that cannot be done
    (not PostgreSQL, audit text the database would hash differently, or a duplicate
    purged meanwhile): the caller then runs ``store_pending`` in a transaction."""
    if connection.vendor != "postgresql":
        return None
    item = items_of([event])[0]
    digest, text = hashed_event(event)  # the text hashed is the body sent, as in _store_raw
    raw = _raw_row(item, digest)
    audit = append_call(
        "lineage.ingest",
        object_type=LineageEvent._meta.label_lower,
        id_sql="raw.id",
        after=_ingest_audit(raw),
    )
    if audit is None:
        return None
    sql, params = _queued_insert([raw], {"body": [pg_json(text)]})
    audit_sql, audit_params = audit
    found = pg_execute(
        f"{sql} SELECT raw.id, raw.body_hash FROM raw CROSS JOIN LATERAL {audit_sql} AS audit",  # noqa: S608
        [*params, *audit_params],
    )
    if found:
        _set_pks([raw], ("body_hash",), found)
        return IngestResult(event=raw, created=True)
    stored = LineageEvent.objects.filter(body_hash=raw.body_hash).first()
    return IngestResult(event=stored, created=False) if stored else None


def project_stored(raws: list[LineageEvent]) -> None:
    """Project raw events stored earlier (``store_pending``), in the caller's
    transaction, as one set in the given order; their audit events were appended when
    they were stored."""
    items = [
        _Item(index, raw.body, raw.kind, raw.event_time, raw=raw, created=True)
        for index, raw in enumerate(raws)
    ]
    if not items:
        return
    known = None
    if connection.vendor == "postgresql":
        known = _Known(items)
        known.take(pg_pipeline(known.statements()))
    versions: dict = {}
    for item in items:
        item.versions = versions
    _Projection(items, versions, known).run()


_READS: dict = {}


def _read_sql(name: str) -> tuple[str, object]:
    """``(sql, compiler)`` of one of ``_Known``'s reads: the ORM's column list (and, from
    its compiler, the conversion of the rows), the rest written once here."""
    if name not in _READS:
        qn = connection.ops.quote_name
        model = {
            "namespaces": Namespace,
            "jobs": Job,
            "datasets": Dataset,
            "job_versions": JobVersion,
            "likely_job_versions": JobVersion,
            "versions": DatasetVersion,
            "latest": DatasetVersion,
        }[name]
        select, _, compiler = compiled(model.objects.order_by())
        table = qn(model._meta.db_table)
        ns, job, ds = (qn(m._meta.db_table) for m in (Namespace, Job, Dataset))
        names = "n.name = ANY(%s::text[]) AND {0}.name = ANY(%s::text[])"
        if name == "namespaces":
            sql = f"{select} WHERE {table}.name = ANY(%s::text[])"
        elif name in ("jobs", "datasets"):
            sql = f"{select} JOIN {ns} n ON n.id = {table}.namespace_id WHERE {names.format(table)}"
        elif name == "job_versions":
            sql = (
                f"{select} WHERE {table}.id IN (SELECT j.current_version_id FROM {job} j "  # noqa: S608
                f"JOIN {ns} n ON n.id = j.namespace_id WHERE {names.format('j')})"
            )
        else:
            parent, column, kind = (
                (job, "job_id", "uuid") if model is JobVersion else (ds, "dataset_id", "text")
            )
            sql = (
                f"{select} JOIN {parent} p ON p.id = {table}.{column} "
                f"JOIN {ns} n ON n.id = p.namespace_id WHERE {names.format('p')}"
            )
            if name == "latest":  # one row per dataset: its newest version
                sql = sql.replace("SELECT ", f"SELECT DISTINCT ON ({table}.dataset_id) ", 1)
                sql += f" ORDER BY {table}.dataset_id, {table}.created_at DESC, {table}.id DESC"
            else:
                sql += f" AND {table}.version = ANY(%s::{kind}[])"
        _READS[name] = (sql, compiler)
    return _READS[name]


class _Known:
    """The rows the batch names that exist already (namespaces, jobs, datasets, the
    versions it names, the latest version of each dataset it reads without naming one,
    the jobs' current versions), read in the round trip that stores the raw events, so
    the projection reads none of them again: a row missing here does not exist."""

    def __init__(self, items: list[_Item]):
        jobs: set = set()
        datasets: set = set()
        self.version_keys: set = set()  # (dataset key, version)
        self.unversioned: set = set()  # dataset keys read without a version
        self.job_version_keys: set = set()  # (job key, version) of the runs' likely versions
        for item in items:
            event = item.event
            inputs, outputs = _io(event)
            datasets.update(_key(d) for d in inputs + outputs)
            if item.kind != EventKind.DATASET:
                jobs.add(_key(event["job"]))
            if item.kind == EventKind.RUN:
                _, parent_job = _parent(event)
                if parent_job:
                    jobs.add(_key(parent_job))
                datasets.update(_column_lineage_inputs(outputs))
            if item.kind == EventKind.JOB:
                continue
            for spec in outputs:
                version = _version_facet(spec)
                if version is None and item.kind == EventKind.RUN:
                    version = str(run_uuid(event["run"]["runId"]))
                if version is not None:
                    self.version_keys.add((_key(spec), version))
            for spec in inputs:
                version = _version_facet(spec)
                if version:
                    self.version_keys.add((_key(spec), version))
                else:
                    self.unversioned.add(_key(spec))
            if (
                item.kind == EventKind.RUN
                and str(event.get("eventType") or "")[:16] in TERMINAL_RUN_STATES
            ):  # its version if the run's edges are this event's (the job's facets as sent)
                key = _key(event["job"])
                job = Job(namespace=Namespace(name=key[0]), name=key[1])
                location = _location(event["job"].get("facets"))
                ins = sorted({_key(d) for d in inputs})
                outs = sorted({_key(d) for d in outputs})
                self.job_version_keys.add((key, job_version_uuid(job, location, ins, outs)))
        self.job_keys, self.dataset_keys = jobs, datasets
        self.namespace_names = {ns for ns, _ in jobs | datasets}
        self.queries: list = []

    @staticmethod
    def _names(keys: set) -> list:
        return [sorted({ns for ns, _ in keys}), sorted({name for _, name in keys})]

    def statements(self) -> list[tuple[str, list, bool]]:
        """The reads, as SQL of a fixed text per shape (arrays bound by the server)."""
        wanted = [("namespaces", [sorted(self.namespace_names)])]
        if self.job_keys:
            wanted += [("jobs", self._names(self.job_keys))]
            wanted += [("job_versions", self._names(self.job_keys))]
        if self.job_version_keys:
            jobs = {key for key, _ in self.job_version_keys}
            versions = sorted({version for _, version in self.job_version_keys})
            wanted.append(("likely_job_versions", [*self._names(jobs), versions]))
        if self.dataset_keys:
            wanted.append(("datasets", self._names(self.dataset_keys)))
        if self.version_keys:
            datasets = {key for key, _ in self.version_keys}
            versions = sorted({version for _, version in self.version_keys})
            wanted.append(("versions", [*self._names(datasets), versions]))
        if self.unversioned:
            wanted.append(("latest", self._names(self.unversioned)))
        statements = []
        for name, params in wanted:
            sql, compiler = _read_sql(name)
            self.queries.append((name, compiler))
            statements.append((sql, params, True))
        return statements

    def take(self, answers: list) -> None:
        rows = {
            name: materialise(compiler, found)
            for (name, compiler), found in zip(self.queries, answers, strict=True)
        }
        self.namespaces = {ns.name: ns for ns in rows["namespaces"]}
        ns_names = {ns.pk: ns.name for ns in rows["namespaces"]}

        def by_key(found, keys):
            named = {(ns_names.get(row.namespace_id), row.name): row for row in found}
            return {key: row for key, row in named.items() if key in keys}

        self.jobs = by_key(rows.get("jobs", []), self.job_keys)
        self.datasets = by_key(rows.get("datasets", []), self.dataset_keys)
        dataset_keys = {row.pk: key for key, row in self.datasets.items()}
        self.versions = {
            (row.dataset_id, row.version): row
            for row in rows.get("versions", [])
            if (dataset_keys.get(row.dataset_id), row.version) in self.version_keys
        }
        self.latest = {
            row.dataset_id: row
            for row in rows.get("latest", [])
            if dataset_keys.get(row.dataset_id) in self.unversioned
        }
        self.job_versions = {
            (row.job_id, row.version): row
            for row in rows.get("job_versions", []) + rows.get("likely_job_versions", [])
        }


class _Projection:
    def __init__(self, items: list[_Item], versions: dict, known: _Known | None = None):
        self.items = items
        self.versions = versions
        self.known = known

    def run(self) -> None:
        self._named_rows()
        self._runs()
        self._versions()
        self._walk()
        self._write()
        changed = [i for i in self.items if i.kind == EventKind.RUN and (i.inputs or i.outputs)]
        if changed:  # once for the batch: receivers read what they need once
            runs = list({item.run.pk: item.run for item in changed}.values())
            run_lineage_changed.send(
                sender=Run,
                run=runs[0],
                runs=runs,
                dataset_version_ids=list(
                    dict.fromkeys(
                        self.versions[key].pk for item in changed for key, _ in item.outputs
                    )
                ),
            )

    # namespaces, jobs, datasets -------------------------------------------------------

    def _named_rows(self) -> None:
        ns_names: set[str] = set()
        job_facets: dict = {}
        self.job_created_by: dict = {}
        job_keys: set = set()
        dataset_facets: dict = {}
        dataset_keys: set = set()
        for item in self.items:
            event = item.event
            inputs, outputs = _io(event)
            item.ns_names.update(d["namespace"] for d in inputs + outputs)
            if item.kind != EventKind.DATASET:
                key = _key(event["job"])
                item.ns_names.add(key[0])
                job_keys.add(key)
                if key not in self.job_created_by:
                    self.job_created_by[key] = item.index
                    job_facets[key] = event["job"].get("facets")
            if item.kind == EventKind.RUN:
                _, parent_job = _parent(event)
                if parent_job:
                    item.ns_names.add(parent_job["namespace"])
                    job_keys.add(_key(parent_job))
                sources = _column_lineage_inputs(outputs)
                item.ns_names.update(ns for ns, _ in sources)
                dataset_keys.update(sources)
            ns_names |= item.ns_names
            event_facets = {_key(d): d.get("facets") for d in inputs + outputs}
            for key, facets in event_facets.items():
                dataset_facets.setdefault(key, facets)
            dataset_keys.update(event_facets)
        known = self.known
        self.namespaces = ensure_namespaces(ns_names, known and known.namespaces)
        self.jobs = ensure_jobs(job_keys, self.namespaces, job_facets, known and known.jobs)
        self.datasets = ensure_datasets(
            dataset_keys, self.namespaces, dataset_facets, known and known.datasets
        )
        self.dataset_before = {
            row.pk: tuple(getattr(row, f) for f in _DATASET_STATE) for row in self.datasets.values()
        }
        self.job_before = {
            row.pk: tuple(getattr(row, f) for f in _JOB_STATE) for row in self.jobs.values()
        }
        self.ns_before = {ns.pk: ns.deleted_at for ns in self.namespaces.values()}

    # runs ---------------------------------------------------------------------------------

    def _fill(self, run: Run, item: _Item) -> None:
        event = item.event
        run_facets = event["run"].get("facets") or {}
        newer = _apply_state(run, item.raw.event_type, item.time)
        nominal = run_facets.get("nominalTime") or {}
        if nominal.get("nominalStartTime"):
            run.nominal_start_time = parse_time(nominal["nominalStartTime"])
        if nominal.get("nominalEndTime"):
            run.nominal_end_time = parse_time(nominal["nominalEndTime"])
        run.facets = _merge_facets(run.facets, run_facets, newer=newer)
        if item.parent_key is not None:
            parent = self.runs.get(item.parent_key)
            if parent is not None and parent.pk:
                run.parent_id = parent.pk
        item.newer = newer

    def _runs(self) -> None:
        run_items = [item for item in self.items if item.kind == EventKind.RUN]
        self.runs: dict = {}
        self.run_before: dict = {}
        self.new_runs: set = set()
        if not run_items:
            return
        own: dict = {}  # run uuid -> (source id, job) of its first mention
        parents: dict = {}
        by_run: dict = {}
        for item in run_items:
            event = item.event
            key = run_uuid(event["run"]["runId"])
            item.job = self.jobs[_key(event["job"])]
            parent, parent_job = _parent(event)
            if parent and parent.get("run", {}).get("runId") and parent_job:
                parent_id = str(parent["run"]["runId"])
                parent_key = run_uuid(parent_id)
                if parent_key != key:
                    item.parent_key = parent_key
                    if parent_key not in own:
                        parents.setdefault(parent_key, (parent_id, self.jobs[_key(parent_job)]))
            if key not in own:
                own[key] = parents.pop(key, None) or (str(event["run"]["runId"]), item.job)
            by_run.setdefault(key, []).append(item)
        # runs known only as parents: created bare (NEW), filled by their own events
        parents = {key: value for key, value in parents.items() if key not in own}
        if parents:
            bare = [
                Run(run_id=key, source_run_id=source, job=job)
                for key, (source, job) in sorted(parents.items(), key=lambda kv: str(kv[0]))
            ]
            insert_returning(bare, ("run_id",))
            self.runs.update({row.run_id: row for row in bare if row.pk})
            rest = [row.run_id for row in bare if not row.pk]
            if rest:
                self.runs.update({row.run_id: row for row in Run.objects.filter(run_id__in=rest)})
        # a new run costs its share of one INSERT; a known one is locked and updated
        fresh = []
        for key, (source, job) in own.items():
            run = Run(run_id=key, source_run_id=source, job=job, facets={})
            for item in by_run[key]:
                self._fill(run, item)
            fresh.append(run)
        insert_returning(fresh, ("run_id",))
        for run in fresh:
            if run.pk:
                self.runs[run.run_id] = run
                self.new_runs.add(run.run_id)
                self.run_before[run.pk] = tuple(getattr(run, f) for f in _RUN_STATE)
        known = [run.run_id for run in fresh if not run.pk]
        if known:
            for run in Run.objects.select_for_update().filter(run_id__in=known).order_by("run_id"):
                self.runs[run.run_id] = run
                self.run_before[run.pk] = tuple(getattr(run, f) for f in _RUN_STATE)
                for item in by_run[run.run_id]:
                    self._fill(run, item)
        for key, run_list in by_run.items():
            for item in run_list:
                item.run = self.runs[key]
                if item.parent_key is not None:  # a parent that is an own run of the batch
                    item.run.parent_id = self.runs[item.parent_key].pk

    # versions -----------------------------------------------------------------------------

    def _versions(self) -> None:
        """Every version the batch reads or writes, created when missing (in arrival
        order, so "the latest version" means what it would one event at a time)."""
        explicit: set = set()
        unversioned_datasets: set = set()
        for item in self.items:
            if item.kind == EventKind.JOB:
                continue  # a job's declared lineage names datasets, not versions
            inputs, outputs = _io(item.event)
            for spec in outputs:
                version = _version_facet(spec)
                if version:
                    explicit.add((self.datasets[_key(spec)].pk, version))
                elif item.kind == EventKind.RUN:
                    explicit.add((self.datasets[_key(spec)].pk, str(item.run.run_id)))
            for spec in inputs:
                version = _version_facet(spec)
                if version:
                    explicit.add((self.datasets[_key(spec)].pk, version))
                else:
                    unversioned_datasets.add(self.datasets[_key(spec)].pk)
        known = self.known
        if known is None:
            found = self._fetch_versions(explicit)
        else:  # read with the raw events; a version of a dataset new here does not exist
            found = {key: row for key, row in known.versions.items() if key in explicit}
        latest: dict = {}
        already: dict = {}
        if unversioned_datasets:
            if known is not None:
                newest = [known.latest[pk] for pk in unversioned_datasets if pk in known.latest]
            else:
                newest = DatasetVersion.objects.filter(
                    dataset_id__in=unversioned_datasets
                ).order_by("dataset_id", "-created_at", "-pk")
            for row in newest:
                if row.dataset_id not in latest:
                    latest[row.dataset_id] = row.version
                    found[(row.dataset_id, row.version)] = row
            old_runs = {
                item.run.pk
                for item in self.items
                if item.run is not None and item.run.run_id not in self.new_runs
            }
            if old_runs:
                for edge in RunInput.objects.filter(
                    run_id__in=old_runs, dataset_version__dataset_id__in=unversioned_datasets
                ).select_related("dataset_version"):
                    row = edge.dataset_version
                    already.setdefault((edge.run_id, row.dataset_id), row.version)
                    found[(row.dataset_id, row.version)] = row
        known = set(found)
        wanted: dict = {}  # new versions, in the order they are made

        def want(key, defaults):
            if key in known:
                return
            known.add(key)
            wanted[key] = defaults
            latest[key[0]] = key[1]

        for item in self.items:
            if item.kind == EventKind.JOB:
                continue
            inputs, outputs = _io(item.event)
            here: dict = {}
            for spec in outputs:
                dataset = self.datasets[_key(spec)]
                version = _version_facet(spec)
                if version is None and item.kind == EventKind.RUN:
                    version = str(item.run.run_id)
                if version is None:
                    continue
                key = (dataset.pk, version)
                item.outputs.append((key, spec))
                here[key] = {
                    "content_hash": content_hash_of(version),
                    "facets": spec.get("facets") or {},
                    "lifecycle_state": _lifecycle(spec),
                }
                if item.run is not None:
                    here[key]["producing_run"] = item.run
            for spec in inputs:
                dataset = self.datasets[_key(spec)]
                version = _version_facet(spec)
                if version:
                    key = (dataset.pk, version)
                    here.setdefault(
                        key,
                        {
                            "content_hash": content_hash_of(version),
                            "facets": spec.get("facets") or {},
                        },
                    )
                else:
                    version = (
                        already.get((item.run.pk, dataset.pk))
                        or latest.get(dataset.pk)
                        or "initial"
                    )
                    key = (dataset.pk, version)
                    here.setdefault(key, {"facets": spec.get("facets") or {}})
                item.inputs.append((key, spec))
                already.setdefault((item.run.pk, dataset.pk), version)
            for key, defaults in here.items():
                if key in wanted and "producing_run" in defaults:
                    wanted[key].setdefault("producing_run", defaults["producing_run"])
                want(key, defaults)
        self.versions.update(found)
        if wanted:
            created = [
                DatasetVersion(dataset_id=dataset_id, version=version, **defaults)
                for (dataset_id, version), defaults in wanted.items()
            ]
            insert_returning(created, ("dataset", "version"))
            self.versions.update({(v.dataset_id, v.version): v for v in created if v.pk})
            rest = wanted.keys() - self.versions.keys()
            if rest:  # written by a concurrent request meanwhile
                self.versions.update(self._fetch_versions(rest))
        # a version first seen as an input gets its producer when a run writes it
        orphans: dict = {}
        for item in self.items:
            for key, _ in item.outputs:
                version = self.versions[key]
                if item.run is not None and version.producing_run_id is None:
                    version.producing_run = item.run
                    orphans.setdefault(item.run.pk, []).append(version.pk)
        for run_pk, pks in orphans.items():
            DatasetVersion.objects.filter(pk__in=pks, producing_run__isnull=True).update(
                producing_run_id=run_pk
            )

    def _fetch_versions(self, keys) -> dict:
        keys = set(keys)
        if not keys:
            return {}
        rows = DatasetVersion.objects.filter(
            dataset_id__in={d for d, _ in keys}, version__in={v for _, v in keys}
        )
        return {(v.dataset_id, v.version): v for v in rows if (v.dataset_id, v.version) in keys}

    # the ordered pass: datasets, jobs, job versions ----------------------------------------

    def _walk(self) -> None:
        edges: dict = {}  # run pk -> (inputs, outputs) as sets of (namespace, name)
        old_terminal = {
            item.run.pk
            for item in self.items
            if item.run is not None
            and item.run.run_id not in self.new_runs
            and item.raw.event_type in TERMINAL_RUN_STATES
        }
        if old_terminal:
            for index, model in enumerate((RunInput, RunOutput)):
                for run_pk, ns, name in model.objects.filter(run_id__in=old_terminal).values_list(
                    "run_id",
                    "dataset_version__dataset__namespace__name",
                    "dataset_version__dataset__name",
                ):
                    edges.setdefault(run_pk, (set(), set()))[index].add((ns, name))
        self.job_versions: dict = {}
        self.declared: dict = {}
        for item in self.items:
            event = item.event
            inputs, outputs = _io(event)
            written = {key[0]: self.versions[key] for key, _ in item.outputs}
            specs = [(d, False) for d in inputs] + [(d, True) for d in outputs]
            self._apply_datasets(specs, item.time, written)
            for ns in item.ns_names:  # an event naming a soft-deleted namespace brings it back
                self.namespaces[ns].deleted_at = None
            if item.kind == EventKind.DATASET:
                continue
            job = self.jobs[_key(event["job"])]
            item.job = job
            if item.kind == EventKind.JOB:
                newer = job.declared_time is None or item.time >= job.declared_time
                if newer:
                    job.declared_time = item.time
                    self.declared[job.pk] = (job, inputs, outputs)
            else:
                newer = item.newer
            created_here = getattr(job, "_govreg_created", False) and (
                self.job_created_by.get(_key(event["job"])) == item.index
            )
            if not created_here:
                job.facets = _merge_facets(job.facets, event["job"].get("facets"), newer=newer)
            job.deleted_at = None
            if item.kind != EventKind.RUN:
                continue
            run_edges = edges.setdefault(item.run.pk, (set(), set()))
            run_edges[0].update(_key(spec) for _, spec in item.inputs)
            run_edges[1].update(_key(spec) for _, spec in item.outputs)
            if item.raw.event_type in TERMINAL_RUN_STATES:
                location = _location(event["job"].get("facets") or job.facets)
                ins, outs = sorted(run_edges[0]), sorted(run_edges[1])
                key = (job.pk, job_version_uuid(job, location, ins, outs))
                self.job_versions.setdefault(
                    key,
                    {
                        "location": location,
                        "inputs": [{"namespace": ns, "name": name} for ns, name in ins],
                        "outputs": [{"namespace": ns, "name": name} for ns, name in outs],
                    },
                )
                item.job_version_key = key
                if (
                    newer
                    or getattr(job, "_current_version_key", None) is None
                    and (job.current_version_id is None)
                ):
                    job._current_version_key = key

    def _apply_datasets(self, specs, event_time: datetime, written: dict) -> None:
        """One event's datasets, by event time (see ``services._update_datasets``)."""
        for spec, is_output in specs:
            row = self.datasets[_key(spec)]
            newer = row.last_event_time is None or event_time >= row.last_event_time
            if not (getattr(row, "_govreg_created", False) and row.last_event_time is None):
                row.facets = _merge_facets(row.facets, spec.get("facets"), newer=newer)
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

    # writes -------------------------------------------------------------------------------

    def _write(self) -> None:
        """Edges, and the rows that changed: on PostgreSQL, one round trip for all."""
        self._write_job_versions()
        together: list = []  # statements sent as one (PostgreSQL)
        now = timezone.now()
        runs = [
            run
            for run in self.runs.values()
            if run.pk in self.run_before
            and tuple(getattr(run, f) for f in _RUN_STATE) != self.run_before[run.pk]
        ]
        if runs:
            for run in runs:
                run.updated_at = now
            update_rows(
                runs,
                [f.removesuffix("_id") for f in _RUN_STATE] + ["updated_at"],
                defer=together,
                before={pk: {"facets": state[6]} for pk, state in self.run_before.items()},
            )
        inputs, outputs, columns, links = [], [], [], []
        for item in self.items:
            run_pk = item.run.pk if item.run is not None else None
            for key, spec in item.inputs:
                inputs.append((run_pk, self.versions[key].pk, spec.get("inputFacets") or {}))
            for key, spec in item.outputs:
                if item.run is not None:
                    outputs.append((run_pk, self.versions[key].pk, spec.get("outputFacets") or {}))
                    columns += self._column_rows(key, spec)
            for spec in sum(_io(item.event), []):
                links += self._symlink_rows(spec)
        edge = ("run_id", "dataset_version_id", "facets")
        insert_rows(RunInput, edge, inputs, defer=together)
        insert_rows(RunOutput, edge, outputs, defer=together)
        insert_rows(ColumnLineage, _COLUMN_ROW, columns, defer=together)
        insert_rows(DatasetSymlink, _SYMLINK_ROW, links, defer=together)
        for rows, before, state in (
            (self.datasets, self.dataset_before, _DATASET_STATE),
            (self.jobs, self.job_before, _JOB_STATE),
        ):
            changed = [
                row
                for row in rows.values()
                if tuple(getattr(row, f) for f in state) != before[row.pk]
            ]
            for row in changed:
                row.updated_at = now
            update_rows(
                changed,
                [f.removesuffix("_id") for f in state] + ["updated_at"],
                defer=together,
                before={pk: {"facets": kept[0]} for pk, kept in before.items()},
            )
        pg_execute_together(together)
        if self.declared:
            JobDataset.objects.filter(job_id__in=self.declared).delete()
            JobDataset.objects.bulk_create(
                [
                    JobDataset(job=job, dataset=self.datasets[_key(d)], direction=way)
                    for job, ins, outs in self.declared.values()
                    for way, specs in ((JobDataset.INPUT, ins), (JobDataset.OUTPUT, outs))
                    for d in specs
                ],
                ignore_conflicts=True,
            )
        undeleted = [ns.pk for ns in self.namespaces.values() if self.ns_before[ns.pk] is not None]
        if undeleted:
            Namespace.objects.filter(pk__in=undeleted).update(deleted_at=None)

    def _write_job_versions(self) -> None:
        if not self.job_versions:
            return

        def fetch(wanted) -> dict:
            rows = JobVersion.objects.filter(
                job_id__in={j for j, _ in wanted}, version__in={v for _, v in wanted}
            )
            return {(r.job_id, r.version): r for r in rows if (r.job_id, r.version) in wanted}

        wanted = set(self.job_versions)
        current = self.known.job_versions if self.known is not None else {}
        by_key = {key: current[key] for key in wanted if key in current}  # a recurring job's
        # version is mostly its current one, read with the events; so was the version the
        # event's own edges make (absent there, it did not exist: no second read)
        read = set()
        if self.known is not None:
            read = {
                (self.jobs[key].pk, version)
                for key, version in self.known.job_version_keys
                if key in self.jobs
            }
        if wanted - by_key.keys() - read:
            by_key.update(fetch(wanted - by_key.keys() - read))
        missing = [key for key in self.job_versions if key not in by_key]
        if missing:
            rows = [
                JobVersion(job_id=job_id, version=version, **self.job_versions[(job_id, version)])
                for job_id, version in missing
            ]
            insert_returning(rows, ("job", "version"))
            by_key.update({(row.job_id, row.version): row for row in rows if row.pk})
            rest = set(missing) - by_key.keys()
            if rest:  # written by a concurrent request meanwhile
                by_key.update(fetch(rest))
        for item in self.items:
            if item.job_version_key is not None:
                item.run.job_version = by_key[item.job_version_key]
        for job in self.jobs.values():
            key = getattr(job, "_current_version_key", None)
            if key is not None:
                job.current_version = by_key[key]
                del job._current_version_key

    def _column_rows(self, key, spec) -> list:
        rows = []
        facet = (spec.get("facets") or {}).get("columnLineage") or {}
        for output_field, field_spec in (facet.get("fields") or {}).items():
            for source in field_spec.get("inputFields") or []:
                rows.append(
                    (
                        self.versions[key].pk,
                        output_field,
                        self.datasets[(source["namespace"], source["name"])].pk,
                        source["field"],
                        source.get("transformations")
                        or (
                            [field_spec["transformationType"]]
                            if field_spec.get("transformationType")
                            else []
                        ),
                    )
                )
        return rows

    def _symlink_rows(self, spec) -> list:
        rows = []
        facet = (spec.get("facets") or {}).get("symlinks") or {}
        for ident in facet.get("identifiers") or []:
            if isinstance(ident, dict) and ident.get("namespace") and ident.get("name"):
                rows.append(
                    (
                        self.datasets[_key(spec)].pk,
                        str(ident["namespace"])[:1024],
                        str(ident["name"])[:1024],
                        str(ident.get("type") or "")[:64],
                    )
                )
        return rows


_COLUMN_ROW = (
    "dataset_version_id",
    "output_field",
    "input_dataset_id",
    "input_field",
    "transformations",
)
_SYMLINK_ROW = ("dataset_id", "namespace", "name", "type")
