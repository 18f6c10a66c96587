"""Querysets the ORM builds and compiles once per process, then runs with new values.

Building a queryset of many subqueries and compiling it to SQL costs Django tens of
milliseconds of Python (the gate's request with every registered fact: ~40 ms), and
the hot paths ask for the same shape on every call with only the values changed: the
request's id, the moment of the judgement. A ``Statement`` builds its queryset once
per database connection alias with stand-in values, keeps the SQL and the compiler
that knows how to turn rows into model instances, and at each run binds the real
values in place of the stand-ins and sends the same text::

    REQUEST = Statement(lambda pk: DeploymentRequest.objects.filter(pk=pk), pk=int)
    found = REQUEST.all(pk=7)          # model instances, select_related filled in

Each slot is named with its kind (``int``, ``str`` or ``datetime``); the stand-in is a
value no caller passes, found by position among the compiled parameters (a slot may
go unused, as ``now`` when no registered fact reads the time; a ``datetime``
parameter that is not a slot is an error at the first build on PostgreSQL: a moment
frozen at build time would silently age; SQLite binds moments as text, where the
check cannot tell them). Values are adapted as the ORM adapts them.
Prefetches named on the built queryset run after the rows are read, as the ORM runs
them. The cache is dropped whenever a setting changes (``override_settings``), and a
``key`` callable names anything else the built SQL depends on (registered checks).

Every run is in the caller's transaction and counted where Django counts its queries;
on PostgreSQL it is a prepared statement of the connection, so the server plans it
once per connection, not on every call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum

from django.core.signals import setting_changed
from django.db import connections
from django.db.models import QuerySet, prefetch_related_objects
from django.db.models.query import ModelIterable, get_related_populators
from django.dispatch import receiver

__all__ = ["Statement", "count_round_trip", "pg_execute"]

_statements: list[Statement] = []


def _stand_in(kind: type, n: int):
    """A value of ``kind`` that no caller passes, the ``n``-th of its kind: ints near the
    top of a 32-bit column's range (Django empties lookups outside a field's range),
    moments in 1971, strings with a NUL byte, which no identifier holds."""
    if kind is int:
        return 2_147_480_000 + n
    if kind is datetime:
        return datetime(1971, 1, 1, 0, 0, n, tzinfo=UTC)
    if kind is str:
        return f"\x00stand-in-{n}"
    raise TypeError(f"a statement slot is int, str or datetime, not {kind.__name__}")


class _Compiled:
    """The SQL of one build, where each slot's values go, and the compiler that read it."""

    def __init__(self, queryset: QuerySet, stand_ins: dict[str, object]):
        self.compiler = queryset.query.get_compiler(using=queryset.db)
        self.ops = self.compiler.connection.ops
        sql, params = self.compiler.as_sql()
        self.sql = sql
        # enum members as their values: Django binds them as strings, psycopg by name
        self.params = [p.value if isinstance(p, Enum) else p for p in params]
        self.prefetch = queryset._prefetch_related_lookups
        self.slots: dict[str, list[int]] = {name: [] for name in stand_ins}
        adapted = {name: self.adapt(value) for name, value in stand_ins.items()}
        for position, param in enumerate(self.params):
            for name, value in adapted.items():
                if type(param) is type(value) and param == value:
                    self.slots[name].append(position)
                    break
            else:
                if isinstance(param, datetime):
                    raise ValueError(
                        f"the statement's SQL holds the moment {param.isoformat()} fixed at "
                        "build time: pass it through a datetime slot"
                    )
                if isinstance(param, str) and "\x00stand-in-" in param:
                    # a lookup rewrote the value (``%name%`` of ``contains``...): binding
                    # the caller's value in its place would not rewrite it again
                    raise ValueError(
                        f"a slot's value reaches the SQL rewritten ({param!r}): a "
                        "statement takes slots only as plain values (exact lookups)"
                    )
        # the converters of the selected columns, which the ORM looks up on every read
        self.columns = [column[0] for column in self.compiler.select[: self.compiler.col_count]]
        self.converters = self.compiler.get_converters(self.columns)
        self.composite = self.compiler.has_composite_fields(self.columns)
        self.instances = issubclass(queryset._iterable_class, ModelIterable)
        if not self.instances:  # values_list(): the rows as tuples
            return
        select = self.compiler.select
        info = self.compiler.klass_info
        start, end = info["select_fields"][0], info["select_fields"][-1] + 1
        self.model = info["model"]
        self.span = (start, end)
        self.names = [column[0].target.attname for column in select[start:end]]
        self.populators = get_related_populators(info, select, queryset.db)
        self.annotations = self.compiler.annotation_col_map or {}

    def adapt(self, value):
        """``value`` as the ORM binds it on this database (a moment, on SQLite, as text)."""
        if isinstance(value, datetime):
            return self.ops.adapt_datetimefield_value(value)
        return value

    def bind(self, values: dict) -> list:
        params = list(self.params)
        for name, positions in self.slots.items():
            value = self.adapt(values[name])
            for position in positions:
                params[position] = value
        return params

    def converted(self, rows):
        """``rows`` with each column's value as the ORM converts it (``results_iter``,
        with the converters looked up once)."""
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        if self.composite:
            rows = self.compiler.composite_fields_to_tuples(rows, self.columns)
        return rows

    def materialise(self, rows, db: str) -> list:
        """Model instances of ``rows``, as the ORM's ``ModelIterable`` makes them (for a
        ``values_list()`` queryset, tuples)."""
        if not self.instances:
            return [tuple(row) for row in self.converted(rows)]
        start, end = self.span
        found = []
        for row in self.converted(rows):
            obj = self.model.from_db(db, self.names, row[start:end])
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in self.annotations.items():
                setattr(obj, name, row[position])
            found.append(obj)
        if self.prefetch and found:
            prefetch_related_objects(found, *self.prefetch)
        return found


class Statement:
    """``build(**values)`` -> a queryset of model instances or ``values_list()`` tuples, compiled
    once per connection alias and ``key()``; ``all(**values)`` runs it."""

    def __init__(
        self, build: Callable[..., QuerySet], *, key: Callable[[], object] = None, **slots
    ):
        self.build = build
        self.key = key or (lambda: None)
        self.stand_ins = {name: _stand_in(kind, n) for n, (name, kind) in enumerate(slots.items())}
        self._compiled: dict[tuple, _Compiled] = {}
        self._lock = threading.Lock()
        _statements.append(self)

    def _for(self, db: str) -> _Compiled:
        cache_key = (db, self.key())
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(cache_key)
                if compiled is None:
                    queryset = self.build(**self.stand_ins).using(db)
                    compiled = self._compiled[cache_key] = _Compiled(queryset, self.stand_ins)
        return compiled

    def all(self, *, using: str = "default", **values) -> list:
        """The rows for ``values`` (every slot named) as model instances."""
        if set(values) != set(self.stand_ins):
            raise TypeError(f"a run names every slot: {sorted(self.stand_ins)}")
        compiled = self._for(using)
        connection = connections[using]
        if connection.vendor == "postgresql":
            rows = _run_prepared(connection, compiled.sql, compiled.bind(values))
        else:
            with connection.cursor() as cursor:
                cursor.execute(compiled.sql, compiled.bind(values))
                rows = cursor.fetchall()
        if compiled.compiler.has_extra_select:  # ordering columns the model does not hold
            rows = [row[: compiled.compiler.col_count] for row in rows]
        return compiled.materialise(rows, using)

    def first(self, **values):
        """The first row for ``values``, or ``None``."""
        found = self.all(**values)
        return found[0] if found else None

    def forget(self) -> None:
        with self._lock:
            self._compiled.clear()


def _run_prepared(connection, sql: str, params: list) -> list:
    """Run ``sql`` on PostgreSQL as a prepared statement of the connection (planned
    once per connection instead of per call: planning the gate's request with its
    facts takes ~12 ms), in the connection's transaction, errors as Django's."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        rows = cursor.fetchall()
    count_round_trip(connection, sql)
    return rows


def pg_execute(sql: str, params: list) -> list:
    """Run one statement on PostgreSQL with the parameters bound by the server, on the
    ORM's connection and in its transaction; the rows, if it answers any.

    For multi-row statements (the intake's, the audit trail's appends): each column
    travels as one array, bound in binary (``%b::bigint[]``, ``%b::text[]``...), so the
    statement's text is short and the same for any number of rows, and no value is
    quoted or escaped client-side (Django's own cursor binds client-side, which
    escapes each quote of a JSON text in an array one by one).
    """
    import psycopg

    connection = connections["default"]
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)  # errors become Django's (IntegrityError, DataError...)
        count_round_trip(connection, sql)
        return cursor.fetchall() if cursor.description else []


def count_round_trip(connection, sql: str) -> None:
    """Count a statement sent past Django's cursor (a psycopg cursor of its own) where
    Django counts its own (debug, ``CaptureQueriesContext``), so query-count bounds see
    every round trip."""
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": "0.000"})


@receiver(setting_changed)
def _forget_all(**kwargs) -> None:
    """A changed setting may change SQL built from it: build again."""
    for statement in _statements:
        statement.forget()
