"""The export's fast path writes exactly the canonical bytes the reference writes.

``audit.chain.canonical_row`` (orjson, from the stored JSON text) against
``govreg_verify.events.canonical`` (``json.dumps``, the reference that was
hashed and that ``docs/audit-formats.md`` specifies), on a corpus of tricky
events; then whole exports on the test database, line by line.
"""

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta, timezone

import pytest
import time_machine
from django.db import connection

from audit import bundles
from audit.bundles import PG_CANONICAL_TIME, write_bundle
from audit.chain import HASHED_FIELDS, canonical_row
from audit.models import AuditEvent
from audit.services import record
from govreg_verify.bundle import verify_bundle
from govreg_verify.events import canonical, format_time
from tests.audit.conftest import PUBLIC_PEM

EVERY_ASCII = "".join(chr(code) for code in range(128))
AWKWARD_TEXT = [
    "",
    EVERY_ASCII,
    'quote " backslash \\ slash / tab \t newline \n return \r',
    "\b\f\x0b\x1f\x7f",
    "Zoë Ødegård, ça coûte 5 €, 東京, Привет, مرحبا",
    "emoji 😀 and 𝄞 outside the BMP",
    "line separators \u2028 \u2029, bom \ufeff, nbsp \u00a0, zero width \u200b",
    "\\u0041 is not an escape here",
    "</script><!-- -->",
]
FLOATS = [
    0.0,
    -0.0,
    1.0,
    0.1,
    0.5,
    1.25,
    -2.5,
    1e16,
    1e-7,
    1.5e300,
    5e-324,
    1.7976931348623157e308,
    123456789.12345679,
    2.0**53,
    0.30000000000000004,
]
INTEGERS = [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1]


def corpus() -> list:
    """JSON values for ``before`` and ``after``: every kind the canonical form covers."""
    values = [
        None,
        {},
        [],
        True,
        False,
        0,
        "plain",
        {"description": "Scores loan applications.", "risk_tier": "high"},
        # keys by code point: upper before lower, then non-ASCII, BMP before astral
        {"b": 1, "a": 2, "B": 3, "A": 4, "é": 5, "\uffff": 6, "😀": 7, "": 8, "a b": 9},
        {"nested": {"z": [{"y": 1, "x": 2}, [3, {"ω": None, "α": True}]], "a": {}}},
        FLOATS,
        {"metrics": {"auc": 0.9312, "loss": 1e-7, "big": 1e16, "ints": INTEGERS}},
        {text: text for text in AWKWARD_TEXT},
        AWKWARD_TEXT,
    ]
    deep = "leaf"
    for _ in range(300):  # deeper than orjson writes: the reference takes it
        deep = {"d": deep}
    values.append(deep)
    values.append({"huge": 2**64, "negative": -(2**70)})  # past 64 bits: the reference too
    return values


def row_of(record_: dict, dumps=json.dumps) -> tuple:
    """The columns as the database hands them to the export: JSON fields as text."""
    return tuple(
        (None if record_[name] is None else dumps(record_[name]))
        if name in ("before", "after")
        else record_[name]
        for name in HASHED_FIELDS
    )


def event(**changes) -> dict:
    base = {
        "seq": 42,
        "created_at": datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
        "actor_id": 7,
        "actor_username": "approver",
        "actor_token": "ci token",
        "action": "registry.mlmodel.update",
        "object_type": "registry.mlmodel",
        "object_id": "12",
        "before": None,
        "after": None,
        "request_id": "0" * 32,
        "source_address": "10.0.0.7",
        "prev_hash": "ab" * 32,
    }
    return {**base, **changes}


@pytest.mark.parametrize("value", corpus(), ids=lambda value: type(value).__name__)
@pytest.mark.parametrize(
    "dumps",
    [
        json.dumps,  # as Django writes the column (SQLite keeps this text)
        lambda value: json.dumps(value, ensure_ascii=False, indent=2),  # other spacing
        lambda value: " " + json.dumps(value) + "\n",  # space around it
    ],
    ids=["django", "indented", "padded"],
)
def test_a_row_serialises_to_the_reference_bytes(value, dumps):
    for record_ in (event(before=value), event(after=value), event(before=value, after=value)):
        assert canonical_row(*row_of(record_, dumps)) == canonical(record_)


@pytest.mark.parametrize("text", AWKWARD_TEXT)
def test_every_string_column_escapes_as_the_reference(text):
    record_ = event(
        actor_username=text,
        actor_token=text,
        action=text,
        object_type=text,
        object_id=text,
        request_id=text,
        source_address=text,
        prev_hash=text,
        before={text: [text]},
    )
    assert canonical_row(*row_of(record_)) == canonical(record_)


def test_non_finite_numbers_and_what_is_not_json_read_as_the_reference():
    # json.loads accepts NaN and Infinity (json.dumps writes them) and a float past the
    # range becomes infinity; Django's JSONField gives back text that is not JSON as is.
    for text in ('{"x": NaN}', "[Infinity, -Infinity]", "1e400", "-1e400", "not json", "[1,"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        record_ = event(after=value)
        row = row_of(record_)
        row = (*row[:9], text, *row[10:])
        assert canonical_row(*row) == canonical(record_), text


def test_times_and_nulls_as_the_reference():
    paris = timezone(timedelta(hours=2))
    for moment in (
        datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
        datetime(2026, 5, 1, 12, 0, 0, 999999, tzinfo=paris),
        datetime(1, 1, 1, tzinfo=UTC),
    ):
        record_ = event(created_at=moment, actor_id=None, source_address=None)
        assert canonical_row(*row_of(record_)) == canonical(record_)
        formatted = (*row_of(record_)[:1], format_time(moment), *row_of(record_)[2:])
        assert canonical_row(*formatted) == canonical(record_)


@pytest.mark.django_db
def test_postgresql_writes_times_as_format_time():
    if connection.vendor != "postgresql":
        pytest.skip("the time is written by PostgreSQL only there")
    moments = [
        datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 3, 30, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(999, 1, 2, 3, 4, 5, 60, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    sql = "SELECT " + PG_CANONICAL_TIME % {"expressions": "%s::timestamptz"}
    with connection.cursor() as cursor:
        for moment in moments:
            cursor.execute(sql, [moment])
            assert cursor.fetchone()[0] == format_time(moment)


def events_jsonl(**kwargs) -> bytes:
    out = io.BytesIO()
    write_bundle(out, [], kind="test", **kwargs)
    return zipfile.ZipFile(io.BytesIO(out.getvalue())).read("events.jsonl")


@pytest.mark.django_db
def test_an_export_writes_each_stored_event_as_the_reference(signing_key, tmp_path):
    # values that come back from the database as they went in (a float like 1e16 reads
    # back from PostgreSQL's jsonb as an integer, so its stored hash would not verify)
    values = [value for value in corpus()[:10] if value is not None]
    values += [
        {"metrics": {"auc": 0.9312, "loss": 1e-7, "ints": INTEGERS[:7]}},
        {text.replace("\x00", ""): [text.replace("\x00", "")] for text in AWKWARD_TEXT},
    ]
    with time_machine.travel(datetime(2026, 5, 1, 10, 0, tzinfo=UTC), tick=False):
        record("test.whole-second", object_type="tests.thing", object_id="0")  # no fraction
    for index, value in enumerate(values):
        record(
            "test.event",
            object_type="tests.thing",
            object_id=AWKWARD_TEXT[index % len(AWKWARD_TEXT)].replace("\x00", "")[:200],
            before=value,
            after={"index": index, "value": value},
        )
    record("test.null", object_type="tests.thing", object_id="1", before=None, after=None)
    lines = events_jsonl(events=AuditEvent.objects.all()).split(b"\n")
    reference = [canonical(event_.as_record()) for event_ in AuditEvent.objects.order_by("seq")]
    assert lines == [*reference, b""]

    out = tmp_path / "export.zip"
    with out.open("wb") as handle:
        write_bundle(handle, [], kind="test", events=AuditEvent.objects.all())
    report = verify_bundle(out, public_key=PUBLIC_PEM)
    assert report.ok, report.failure
    assert report.events == len(reference)


@pytest.mark.django_db
@pytest.mark.parametrize("object_id", [None, "1"], ids=["whole trail", "one object"])
def test_events_over_many_fetches_and_blocks_are_written_and_proved(
    signing_key, tmp_path, monkeypatch, object_id
):
    monkeypatch.setattr(bundles, "EVENT_CHUNK", 4)  # rows per fetch
    monkeypatch.setattr(bundles, "LINES_PER_BLOCK", 3)  # lines per block written
    for index in range(23):
        record("test.event", object_type="tests.thing", object_id=str(index % 3))
    chosen = AuditEvent.objects.all()
    if object_id:
        chosen = chosen.filter(object_id=object_id)
    seen = []
    out = tmp_path / "export.zip"
    with out.open("wb") as handle:
        stated = write_bundle(handle, [], kind="test", events=chosen, progress=seen.append)
    expected = [canonical(e.as_record()) for e in chosen.order_by("seq")]
    assert zipfile.ZipFile(out).read("events.jsonl").split(b"\n") == [*expected, b""]
    seqs = list(chosen.order_by("seq").values_list("seq", flat=True))
    assert stated["events"] == {
        "count": len(seqs),
        "first_seq": seqs[0],
        "last_seq": seqs[-1],
        "contiguous": not object_id,
    }
    assert seen == [*range(4, len(seqs), 4), len(seqs)]
    report = verify_bundle(out, public_key=PUBLIC_PEM)
    assert report.ok, report.failure
    assert report.events == len(seqs)


@pytest.mark.django_db(transaction=True)
def test_an_export_outside_a_transaction_reads_the_same_lines(signing_key, tmp_path):
    # no transaction open: on PostgreSQL the rows are read on a connection of their own
    assert not connection.in_atomic_block
    for index, value in enumerate(corpus()[:10]):
        record("test.event", object_type="tests.thing", object_id=str(index), after=value)
    out = tmp_path / "export.zip"
    with out.open("wb") as handle:
        write_bundle(handle, [], kind="test", events=AuditEvent.objects.all())
    expected = [canonical(e.as_record()) for e in AuditEvent.objects.order_by("seq")]
    assert zipfile.ZipFile(out).read("events.jsonl").split(b"\n") == [*expected, b""]
    report = verify_bundle(out, public_key=PUBLIC_PEM)
    assert report.ok, report.failure
