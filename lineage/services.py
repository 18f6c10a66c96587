"""The verbs of lineage: take an OpenLineage event in, change a dataset version's status.

``ingest_event`` (one event) and ``ingest_events`` (a batch) store each raw
event once (a unique constraint on the hash of its canonical JSON decides, so
two clients retrying the same event at the same moment cannot both store it)
and, in the same transaction, project the batch as one set onto namespaces,
datasets, versions, jobs, runs and edges (``lineage.projection``): each table
is read and written once per batch, and creations use ``ON CONFLICT DO
NOTHING`` so concurrent writers of the same dataset never fail each other.
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

import orjson
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.permissions import may_any
from audit.services import record
from config.statements import count_round_trip, pg_execute
from lineage.choices import TERMINAL_RUN_STATES, RunState, VersionStatus
from lineage.models import (
    Dataset,
    DatasetVersion,
    FieldTag,
    Job,
    LineageEvent,
    Namespace,
    Run,
    Tag,
)
from lineage.signals import dataset_version_status_changed
from lineage.validation import has_float as _has_float
from lineage.vocabulary import facet_tag_name
from vocabulary import services as vocabulary

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


def canonical_json(event: dict) -> bytes:
    """Sorted keys, no whitespace, in UTF-8. orjson writes the same text as the
    standard library but for floats (their notation differs), so a document holding
    one (or anything but plain JSON values) is written by the standard library."""
    try:
        # orjson refuses (TypeError) a key that is not a string, an integer beyond 64
        # bits, a lone surrogate, and (passed through) dates, dataclasses and subclasses
        text = orjson.dumps(event, option=_CANONICAL)
    except TypeError:
        text = None
    if text is not None and not _has_float(event):
        return text
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


_CANONICAL = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def fast_json(value) -> bytes | str:
    """JSON for a JSON column: orjson, else (an integer beyond 64 bits...) the standard
    library; the database keeps the same value from either."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value)


def pg_prep(field, value):
    """``field.get_db_prep_save(value)`` for the intake's PostgreSQL statements, a JSON
    column (of no custom encoder) encoded by ``fast_json``.

    A value already of the column's Python type (an ``int`` for an integer or a
    foreign key, a ``str`` for text, a ``UUID``, an aware ``datetime``, None for a
    nullable column) is what Django would send for it on PostgreSQL: it goes as it
    is, without Django's per-value conversions (the bulk of a batch's Python time).
    """
    kind = type(value)
    passing = _PASSING.get(field)
    if passing is None:
        passing = _PASSING[field] = _passing_types(field)
    if kind in passing and (kind is not datetime or value.tzinfo is not None):
        return value
    if value is not None and passing is _JSON:
        from psycopg.types.json import Jsonb

        return Jsonb(field.get_prep_value(value), dumps=fast_json)
    return field.get_db_prep_save(value, connection)


def pg_json(text: bytes):
    """A JSON text already written (``canonical_json``), as a parameter of a jsonb column
    in ``pg_execute``'s statements: sent as it is."""
    from psycopg.types.json import Jsonb

    return Jsonb(text, dumps=_as_written)


def _as_written(text: bytes) -> bytes:
    return text


_JSON = frozenset()  # a JSON column of no custom encoder (identity matters, not contents)
_PASSING: dict = {}
_PASS_BY_TYPE = {
    "AutoField": (int,),
    "BigAutoField": (int,),
    "SmallAutoField": (int,),
    "IntegerField": (int,),
    "BigIntegerField": (int,),
    "SmallIntegerField": (int,),
    "PositiveIntegerField": (int,),
    "PositiveBigIntegerField": (int,),
    "PositiveSmallIntegerField": (int,),
    "CharField": (str,),
    "TextField": (str,),
    "UUIDField": (uuid.UUID,),
    "DateTimeField": (datetime,),
    "BooleanField": (bool,),
}


def _passing_types(field) -> frozenset:
    """The exact Python types whose values ``pg_prep`` sends unconverted for ``field``."""
    if isinstance(field, models.JSONField):
        return _JSON if field.encoder is None else frozenset()
    target = field
    while getattr(target, "remote_field", None) is not None and hasattr(target, "target_field"):
        target = target.target_field  # a foreign key sends its target column's value
    if type(target).get_db_prep_save is not models.Field.get_db_prep_save:
        return frozenset()  # a field of its own conversions: always through Django
    types = set(_PASS_BY_TYPE.get(type(target).__name__, ()))
    if types and type(target).__module__ != "django.db.models.fields":
        types = set()  # a subclass of a field type may convert: through Django
    if field.null and types:
        types.add(type(None))
    return frozenset(types)


def event_hash(event: dict) -> str:
    """SHA-256 of the canonical JSON: key order and whitespace do not make a new event."""
    return hashed_event(event)[0]


def hashed_event(event: dict) -> tuple[str, bytes]:
    """``(event_hash(event), canonical JSON)``: the text hashed is also a text to store
    (the jsonb it makes is the event's), so the intake writes each event once."""
    text = canonical_json(event)
    return hashlib.sha256(text).hexdigest(), text


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


def pg_pipeline(statements: list[tuple[str, list, bool]]) -> list[list]:
    """Run independent statements on PostgreSQL in one round trip (psycopg's pipeline
    mode), in order, in the caller's transaction; the rows of each, in order.

    Each statement is ``(sql, params, server_bound)``: server-bound ones take
    ``%b`` arrays (as ``pg_execute``), the others are SQL compiled by Django's
    ORM (``%s`` placeholders, bound client-side as Django's own cursor does).
    """
    import psycopg

    connection.ensure_connection()
    conn = connection.connection
    cursors = []
    try:
        with connection.wrap_database_errors:
            with conn.pipeline():
                for sql, params, server_bound in statements:
                    cursor = psycopg.Cursor(conn) if server_bound else psycopg.ClientCursor(conn)
                    cursors.append(cursor)
                    cursor.execute(sql, params)
            count_round_trip(connection, "; ".join(sql for sql, _, _ in statements))
            return [cursor.fetchall() if cursor.description else [] for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


def compiled(queryset) -> tuple[str, list, object]:
    """``(sql, params, compiler)`` of a plain queryset of one model, for ``pg_pipeline``;
    ``materialise`` turns its rows into instances as the ORM would."""
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    return sql, list(params), compiler


def materialise(compiler, rows) -> list:
    """Model instances of ``rows`` read with the SQL of ``compiled`` (converters applied;
    a JSON column of no custom decoder is read by ``fast_loads``, the same values)."""
    model = compiler.query.model
    columns = [column for column, _, _ in compiler.select[: compiler.col_count]]
    names = [column.target.attname for column in columns]
    converters = compiler.get_converters(columns)
    json_columns = [
        n
        for n, (_, expression) in converters.items()
        if isinstance(expression.output_field, models.JSONField)
        and expression.output_field.decoder is None
        and len(converters[n][0]) == 1
    ]
    if json_columns:
        for n in json_columns:
            del converters[n]
        rows = [list(row) for row in rows]
        for row in rows:
            for n in json_columns:
                row[n] = fast_loads(row[n])
    if converters:
        rows = compiler.apply_converters(rows, converters)
    return [model.from_db(connection.alias, names, row) for row in rows]


def fast_loads(text):
    """``JSONField.from_db_value`` of a column's text, by orjson; by the standard library
    what orjson reads differently or not at all (an integer of 19 digits or more, which
    orjson may read as a float; a lone surrogate)."""
    if text is None or not isinstance(text, str):
        return text
    if not _LONG_DIGITS.search(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


_LONG_DIGITS = re.compile(r"[0-9]{19}")


def pg_array_type(field) -> str:
    """The PostgreSQL array type of a column (read once per field)."""
    found = _ARRAY_TYPES.get(field)
    if found is None:
        found = _ARRAY_TYPES[field] = f"{field.db_type(connection)}[]"
    return found


_ARRAY_TYPES: dict = {}


def pg_execute_together(statements: list[tuple[str, list]]) -> None:
    """Run data-modifying statements (on different tables, none reading another's
    rows) in one round trip: one statement of ``WITH`` clauses."""
    if not statements:
        return
    if len(statements) == 1:
        pg_execute(*statements[0])
        return
    clauses = ", ".join(f"w{n} AS ({sql})" for n, (sql, _) in enumerate(statements))
    pg_execute(f"WITH {clauses} SELECT 1", [p for _, params in statements for p in params])


def insert_returning(
    objs, key_fields: tuple[str, ...] = (), *, returning=True, defer: list | None = None
) -> dict[tuple, int]:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` for unsaved model instances.

    One round trip; a row whose unique key already exists is skipped (the
    database constraint decides, so concurrent writers never fail each other).
    Sets the pk of the inserted instances; returns ``{key: pk}`` for them
    (nothing with ``returning=False``; then, on PostgreSQL, ``defer`` collects the
    statement for ``pg_execute_together`` instead of running it).
    """
    objs = list(objs)
    if not objs:
        return {}
    meta = type(objs[0])._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    key_columns = [meta.get_field(name).column for name in key_fields]
    if connection.vendor == "postgresql":
        sql, params = pg_insert_statement(objs, key_fields, returning=returning)
        if not returning and defer is not None:
            defer.append((sql, params))
            return {}
        found = pg_execute(sql, params)
        return _set_pks(objs, key_fields, found) if returning else {}
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
    names = [meta.pk.column, *key_columns]
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([placeholders] * len(objs))} "
        f"ON CONFLICT DO NOTHING RETURNING {', '.join(connection.ops.quote_name(c) for c in names)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _set_pks(objs, key_fields, rows) if returning else {}


def insert_rows(model, names: tuple[str, ...], rows: list[tuple], *, defer=None) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING`` of rows given as tuples of the values of the
    fields ``names`` (attnames: ``run_id``, not ``run``), without a model instance per
    row: the other fields take their defaults (one ``now`` for ``auto_now`` fields).
    On PostgreSQL one statement (collected in ``defer`` for ``pg_execute_together``
    when given); elsewhere ``insert_returning`` of instances."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        insert_returning(
            [model(**dict(zip(names, row, strict=True))) for row in rows], returning=False
        )
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    position = {name: n for n, name in enumerate(names)}
    now = timezone.now()
    params = []
    for f in fields:
        n = position.get(f.attname)
        if n is not None:
            params.append([pg_prep(f, row[n]) for row in rows])
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            params.append([now] * len(rows))
        else:
            params.append([pg_prep(f, f.get_default()) for _ in rows])
    qn = connection.ops.quote_name
    arrays = ", ".join(f"%b::{pg_array_type(f)}" for f in fields)
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
        f"SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING"
    )
    if defer is not None:
        defer.append((sql, params))
    else:
        pg_execute(sql, params)


def pg_insert_statement(
    objs, key_fields: tuple[str, ...] = (), *, returning=True, prepared: dict | None = None
):
    """``(sql, params)`` of ``insert_returning``'s PostgreSQL statement (one array per
    column, ``ON CONFLICT DO NOTHING``, ``RETURNING`` the pk and ``key_fields``).
    ``prepared``: field name -> the column's parameters, one per object, ready to send
    (``pg_json``), in place of the objects' values."""
    meta = type(objs[0])._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    prepared = prepared or {}
    params = [
        prepared[f.name]
        if f.name in prepared
        else [pg_prep(f, f.pre_save(obj, True)) for obj in objs]
        for f in fields
    ]
    qn = connection.ops.quote_name
    arrays = ", ".join(f"%b::{pg_array_type(f)}" for f in fields)
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
        f"SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING"
    )
    if returning:
        columns = [meta.pk.column, *(meta.get_field(name).column for name in key_fields)]
        sql += f" RETURNING {', '.join(qn(c) for c in columns)}"
    return sql, params


def _set_pks(objs, key_fields, rows) -> dict[tuple, int]:
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


def ensure_namespaces(names, known: dict | None = None) -> dict[str, Namespace]:
    """Namespaces by name, created when missing. ``known``: the rows already read by
    name (a name it lacks does not exist), so they are not read again."""
    hits, names = _cached("namespace", set(names)) if known is None else ({}, set(names))
    found = dict(hits)
    if not names:
        return found
    if known is None:
        found.update({ns.name: ns for ns in Namespace.objects.filter(name__in=names)})
    else:
        found.update({name: known[name] for name in names if name in known})
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
    model,
    keys: set[tuple[str, str]],
    namespaces: dict[str, Namespace],
    facets=None,
    known: dict | None = None,
) -> dict:
    """Datasets or jobs by ``(namespace name, name)``, created (with ``facets``) when missing.
    ``known``: the rows already read by key (a key it lacks does not exist)."""
    if not keys:
        return {}
    kind = model._meta.model_name
    hits, keys = _cached(kind, keys) if known is None else ({}, keys)
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

    found = fetch(keys) if known is None else {key: known[key] for key in keys if key in known}
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


def ensure_datasets(keys, namespaces, facets=None, known=None) -> dict[tuple[str, str], Dataset]:
    return _ensure_named(Dataset, set(keys), namespaces, facets, known)


def ensure_jobs(keys, namespaces, facets=None, known=None) -> dict[tuple[str, str], Job]:
    return _ensure_named(Job, set(keys), namespaces, facets, known)


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


# --- ingestion ----------------------------------------------------------------------


def ingest_event(event: dict) -> IngestResult:
    """Store one validated OpenLineage event and project it onto the lineage records.

    Idempotent: an event already stored (same canonical body) changes nothing
    and returns ``created=False``. Run state follows event time, so events may
    arrive in any order. Runs in the caller's transaction (no savepoint of its
    own); an error rolls it back. ``ingest_events`` does the same for a batch.
    """
    return ingest_events([event])[0]


@transaction.atomic(savepoint=False)
def ingest_events(events: list[dict]) -> list[IngestResult]:
    """Store and project validated events as one set (see ``lineage.projection``), in
    the caller's transaction: one result per event, in order."""
    from lineage.projection import project_events
    from lineage.queue import before_inline

    before_inline()
    results = project_events(events)
    apply_tag_facets(events)
    return results


def _column_lineage_inputs(outputs) -> list[tuple[str, str]]:
    keys = []
    for dataset in outputs:
        facet = (dataset.get("facets") or {}).get("columnLineage") or {}
        for spec in (facet.get("fields") or {}).values():
            for source in spec.get("inputFields") or []:
                keys.append((source["namespace"], source["name"]))
    return keys


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
            vocabulary.lineage_tag(name)
            return tag
        record("lineage.tag", obj=tag, before=before, after={"description": tag.description})
        vocabulary.lineage_tag(name, description)
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
    return label_dataset(dataset, tag_name, field=field, source="marquez", actor=actor)


def label_dataset(
    dataset: Dataset, tag_name: str, *, field: str | None, source: str, actor=None
) -> Dataset:
    """Tag a dataset or one of its fields, in lineage (Marquez's view) and in the shared
    vocabulary alike (the same tag, ``vocabulary.services.lineage_tag``); audited. The
    caller checked the right (a Marquez write, an OpenLineage intake)."""
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
        vocabulary.assign(
            actor,
            dataset,
            tag=vocabulary.lineage_tag(tag.name),
            field=field or "",
            source=source,
            authorised=True,
            exists_ok=True,
            replace_exclusive=True,
        )
    return dataset


def apply_tag_facets(events: list[dict]) -> None:
    """Label the datasets of ``events`` with the tags of their OpenLineage ``tags`` facets
    (on the dataset, or on a field with ``field``); idempotent, and no query unless some
    dataset carries that facet. A field the schema does not name is labelled anyway: the
    facet may arrive before the schema."""
    wanted: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    for event in events:
        for spec in [*(event.get("inputs") or []), *(event.get("outputs") or [])]:
            facet = ((spec.get("facets") or {}) if isinstance(spec, dict) else {}).get("tags")
            entries = facet.get("tags") if isinstance(facet, dict) else None
            for entry in entries if isinstance(entries, list) else []:
                name = facet_tag_name(entry) if isinstance(entry, dict) else None
                if name:
                    field = str(entry.get("field") or "").strip()[:1024] or None
                    key = (str(spec.get("namespace")), str(spec.get("name")))
                    wanted.setdefault(key, []).append((name, field))
    if not wanted:
        return
    # One read for every tagged dataset of the batch, not one per dataset.
    match = models.Q()
    for namespace, name in wanted:
        match |= models.Q(namespace__name=namespace, name=name)
    datasets = {
        (d.namespace.name, d.name): d
        for d in Dataset.objects.filter(match).select_related("namespace")
    }
    for key, tags in wanted.items():
        dataset = datasets.get(key)
        for tag_name, field in dict.fromkeys(tags) if dataset is not None else ():
            label_dataset(dataset, tag_name, field=field, source="openlineage")


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
