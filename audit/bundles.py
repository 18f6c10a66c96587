"""Writing signed export bundles on the server (the format is ``govreg_verify.bundle``).

Every export govreg hands out (a period of the audit trail, a model's dossier,
an incident report) is one bundle: the caller's files, optionally audit events
in their canonical form with the Merkle proof that they are in the log, the
latest signed checkpoint, every public key, and a signed manifest over it all.
A regulator checks it with ``govreg verify BUNDLE`` (no server, no database).
"""

import base64
import itertools
import json
from collections.abc import Callable, Iterable

from django.db import connections
from django.db.models import CharField, F, Func, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from audit import keys, proofs, signing
from audit.chain import canonical_row
from audit.exceptions import TrailTampered
from audit.models import AuditCheckpoint
from audit.services import sign_checkpoint
from govreg_verify.bundle import (
    CHECKPOINT,
    EVENTS,
    PROOFS,
    PUBLIC_KEYS,
    RESERVED,
    BundleError,
    BundleWriter,
    public_keys_pem,
)
from govreg_verify.checkpoint import key_id
from govreg_verify.events import HASHED_FIELDS
from govreg_verify.merkle import consistency_ranges, gap_ranges

EVENT_CHUNK = 2000  # rows per fetch from the server-side cursor
# Lines per block written: blocks of a few hundred kB keep the export's peak memory low.
LINES_PER_BLOCK = 1000

__all__ = ["BundleError", "write_bundle"]


def write_bundle(
    fileobj,
    files: list[tuple[str, bytes | Iterable[bytes]]],
    *,
    kind: str,
    events: QuerySet | None = None,
    predicate: dict | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Write a signed bundle of ``files`` into ``fileobj``; returns its signed predicate.

    ``write_bundle(fileobj, files, *, kind, events=None, predicate=None, progress=None)``

    - ``fileobj``: a writable binary file (an open file, ``io.BytesIO``, a
      temporary file; need not be seekable). Nothing is held in memory beyond
      one chunk: each file's bytes go through once, hashed as they are written.
    - ``files``: ``[(name, data), ...]`` where data is ``bytes`` or an iterable
      of ``bytes`` chunks (a generator streams). Names are paths inside the zip
      ("dossier.json", "dossier.pdf"); ``events.jsonl``, ``proofs.json``,
      ``checkpoint.txt``, ``public-keys.pem`` and ``manifest.dsse.json`` are
      the bundle's own.
    - ``kind``: what the bundle is ("audit-export", "dossier", "incident-report"),
      stated in the signed manifest.
    - ``events``: optional ``AuditEvent`` queryset (filters only; ordering is by
      sequence): those events up to the checkpoint go into ``events.jsonl`` in
      their canonical hashed form, with the Merkle proof that places them in the
      checkpoint's tree. Read with a server-side cursor, never all at once.
    - ``predicate``: optional extra JSON fields for the signed manifest's
      predicate (what was asked: model, version, period...).
    - ``progress``: optional callback, given the number of events written so far.

    Adds the latest signed checkpoint (signing a fresh one first if the trail
    grew since), consistency proofs from every earlier checkpoint to it, and
    every public key the deployment signed with; signs the manifest with the
    current key. The caller records its own audit event for the export, before
    calling, so the bundle's checkpoint covers it. Raises ``BundleError`` for a
    reserved or repeated file name, ``TrailTampered`` when the trail does not
    verify far enough to be signed, ``ImproperlyConfigured`` without a key.
    """
    for name, _ in files:
        if name in RESERVED:
            raise BundleError(f"{name!r} is a name the bundle uses for itself")
    private_key = signing.required_signing_key()
    origin = signing.log_origin()
    checkpoint = sign_checkpoint()
    if checkpoint is None:
        raise TrailTampered("the audit trail is empty: there is no checkpoint to export")
    size = checkpoint.tree_size
    writer = BundleWriter(fileobj)
    for name, data in files:
        writer.add(name, data)
    stated_events = None
    proof_document: dict = {"tree_size": size}
    if events is not None:
        held: list[tuple[int, int]] = []
        counter = {"count": 0}
        writer.add(EVENTS, _event_lines(events, size, held, counter, progress))
        gaps = proofs.resolve(gap_ranges(size, held))
        proof_document["events"] = {"gaps": [_b64(node) for node in gaps]}
        stated_events = {
            "count": counter["count"],
            "first_seq": held[0][0] + 1 if held else None,
            "last_seq": held[-1][1] if held else None,
            "contiguous": len(held) <= 1,
        }
    proof_document["consistency"] = _consistency_proofs(size)
    writer.add(PROOFS, _json(proof_document))
    writer.add(CHECKPOINT, checkpoint.note().encode())
    writer.add(PUBLIC_KEYS, public_keys_pem(keys.public_keys()))
    stated = {
        **(predicate or {}),
        "kind": kind,
        "created_at": timezone.now().isoformat(),
        "origin": origin,
        "tree_size": size,
        "root_hash": _b64(bytes.fromhex(checkpoint.root_hash)),
        "checkpoint_key_id": checkpoint.key_id,
        "events": stated_events,
    }
    writer.close(
        private_key, keyid=key_id(origin, private_key.public_key()).hex(), predicate=stated
    )
    return stated


# ``format_time`` of a timestamptz, written by PostgreSQL: no datetime object per event.
PG_CANONICAL_TIME = (
    "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
)


def _event_chunks(events: QuerySet, size: int):
    """The hashed columns of ``events`` with seq <= size, in order, as ``canonical_row``
    takes them, in lists of up to ``EVENT_CHUNK`` rows: ``before`` and ``after`` as their
    stored JSON text (orjson writes them back without Django decoding them first). On
    PostgreSQL ``created_at`` comes as its canonical text and the rows straight from a
    server-side cursor, a chunk per fetch, with no per-row work in Django."""
    database = connections[events.db]
    columns = {
        "before_text": Cast("before", TextField()),
        "after_text": Cast("after", TextField()),
    }
    created = "created_at"
    server_side = database.vendor == "postgresql" and not database.settings_dict.get(
        "DISABLE_SERVER_SIDE_CURSORS"
    )
    if server_side:
        columns["created_text"] = Func(
            F("created_at"), template=PG_CANONICAL_TIME, output_field=CharField()
        )
        created = "created_text"
    names = [
        {"created_at": created, "before": "before_text", "after": "after_text"}.get(name, name)
        for name in HASHED_FIELDS
    ]
    queryset = events.filter(seq__lte=size).order_by("seq").annotate(**columns)
    queryset = queryset.values_list(*names)
    if not server_side:
        rows = queryset.iterator(EVENT_CHUNK)
        while chunk := list(itertools.islice(rows, EVENT_CHUNK)):
            yield chunk
        return
    sql, params = queryset.query.get_compiler(using=events.db).as_sql()
    if database.in_atomic_block:
        yield from _fetch_chunks(database, sql, params)
        return
    # Outside a transaction everything read is committed: read it in a transaction of a
    # connection of its own, where the cursor streams. In autocommit the cursor has to
    # be WITH HOLD, and PostgreSQL then copies every row out before the first fetch.
    reader = connections.create_connection(events.db)
    try:
        reader.set_autocommit(False)
        yield from _fetch_chunks(reader, sql, params)
    finally:
        reader.close()


def _fetch_chunks(database, sql: str, params):
    with database.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(EVENT_CHUNK):
            yield chunk


def _event_lines(events: QuerySet, size: int, held, counter, progress):
    """Canonical lines of ``events`` with seq <= size, noting their seq runs in ``held``."""
    count = 0
    for rows in _event_chunks(events, size):
        first, last = rows[0][0], rows[-1][0]
        if last - first == len(rows) - 1 and held and held[-1][1] == first - 1:
            held[-1] = (held[-1][0], last)  # seqs are unique: no gap in this chunk
        else:
            for row in rows:
                seq = row[0]
                if held and held[-1][1] == seq - 1:
                    held[-1] = (held[-1][0], seq)
                else:
                    held.append((seq - 1, seq))
        for start in range(0, len(rows), LINES_PER_BLOCK):
            lines = [canonical_row(*row) for row in rows[start : start + LINES_PER_BLOCK]]
            lines.append(b"")
            yield b"\n".join(lines)
        count += len(rows)
        counter["count"] = count
        if progress is not None:
            progress(count)
    if progress is not None and not count:
        progress(count)


def _consistency_proofs(size: int) -> dict[str, list[str]]:
    """From every earlier signed checkpoint's size to ``size``: whoever kept any of them
    can check the bundle's log extends it."""
    sizes = list(
        AuditCheckpoint.objects.filter(tree_size__lt=size, tree_size__gt=0)
        .order_by("tree_size")
        .values_list("tree_size", flat=True)
    )
    plans = [(old, consistency_ranges(old, size)) for old in sizes]
    unique = sorted({item for _, ranges in plans for item in ranges})
    hashes = dict(zip(unique, proofs.resolve(unique), strict=True))
    return {str(old): [_b64(hashes[item]) for item in ranges] for old, ranges in plans}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _json(document: dict) -> bytes:
    return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"
