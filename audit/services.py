"""Appending to the audit trail, and signing checkpoints over it."""

import base64
import json
import secrets

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit import signing
from audit.chain import GENESIS_HASH, canonical_pieces, check_log, event_hash
from audit.context import current, current_actor
from audit.exceptions import TrailTampered
from audit.models import AuditChainHead, AuditCheckpoint, AuditEvent, AuditTreeNode
from config.statements import pg_execute
from govreg_verify.checkpoint import Checkpoint, CheckpointError, key_id, open_note, sign_note


def to_json(value):
    """Normalise a value to what a JSON column gives back, so hashes match after a round trip."""
    if value is None:
        return None
    try:  # plain JSON values (the common case) by orjson: the same values back
        return orjson.loads(orjson.dumps(value, option=_PLAIN_ONLY))
    except TypeError:  # dates, decimals, UUIDs, lazy text...: as Django's encoder writes them
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


# orjson refuses (TypeError) what DjangoJSONEncoder would write its own way: datetimes,
# dataclasses and subclasses passed through to no default; UUIDs and other types it has
# no encoder for without a ``default``
_PLAIN_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def object_label(obj) -> tuple[str, str]:
    return obj._meta.label_lower, str(obj.pk)


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
        seed = AuditChainHead(
            pk=1,
            last_seq=last["seq"] if last else 0,
            last_hash=last["hash"] if last else GENESIS_HASH,
        )
        AuditChainHead.objects.bulk_create([seed], ignore_conflicts=True)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


def _new_event(
    action: str,
    *,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    before=None,
    after=None,
) -> AuditEvent:
    """An unsaved event of the current request and actor (seq and hashes still unset)."""
    if obj is not None:
        object_type, object_id = object_label(obj)
    ctx = current()
    actor = current_actor()
    return AuditEvent(
        created_at=timezone.now(),
        actor_id=actor.user_id,
        actor_username=actor.username[:150],
        actor_token=actor.token[:200],
        action=action[:64],
        object_type=object_type[:100],
        object_id=str(object_id)[:200],
        before=to_json(before),
        after=to_json(after),
        request_id=ctx.request_id[:64],
        source_address=ctx.source_address,
    )


def record(
    action: str,
    *,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    before=None,
    after=None,
) -> AuditEvent:
    """Append one event, in the caller's transaction, after every earlier one.

    The chain head row is locked first, so concurrent writers queue and the
    chain never forks; the lock is released when the caller's transaction ends.
    On PostgreSQL the whole append is one call of the ``audit_append()``
    function (migrations 0003 and 0007, which seeds a missing head); elsewhere it is
    done here.
    """
    event = _new_event(
        action,
        obj=obj,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
    # One statement is atomic on its own, in the caller's transaction or outside one.
    if _uses_append_function() and _append_in_database(event):
        return event
    _append_here([event])
    return event


def record_many(events: list[dict]) -> list[AuditEvent]:
    """Append the events of one act (each a dict of ``record``'s keyword arguments,
    ``action`` included) in order, in the caller's transaction: one round trip on
    PostgreSQL (``audit_append_many()``), three elsewhere, instead of one (three) per
    event; the chain's lock is taken once."""
    built = [_new_event(**spec) for spec in events]
    if len(built) <= 1:
        return [record(**events[0])] if events else []
    if _uses_append_function() and _append_many_in_database(built):
        return built
    _append_here(built)
    return built


def _append_here(events: list[AuditEvent]) -> None:
    """Lock the head, chain and hash ``events`` here, insert them, move the head."""
    # No savepoint: the events belong to the caller's transaction and fail with it.
    with transaction.atomic(savepoint=False):
        head = _locked_head()
        seq, prev = head.last_seq, head.last_hash
        for event in events:
            seq += 1
            event.seq, event.prev_hash = seq, prev
            event.hash = prev = event_hash(event.as_record())
        if len(events) == 1:
            events[0].save(force_insert=True)
        else:
            AuditEvent.objects.bulk_create(events)
        AuditChainHead.objects.filter(pk=1).update(last_seq=seq, last_hash=prev)


def _uses_append_function() -> bool:
    """PostgreSQL with a UTF-8 database: the server hashes the same bytes Python would."""
    if connection.vendor != "postgresql":
        return False
    known = getattr(connection, "_govreg_utf8", None)
    if known is None:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_encoding")
            known = cursor.fetchone()[0].upper() in {"UTF8", "UTF-8"}
        connection._govreg_utf8 = known
    return known


# The SQL types of audit_append()'s arguments, in order: the event's columns
# (``_append_params``), then the three canonical pieces; audit_append_many() takes an
# array of each.
_ARG_TYPES = (
    "timestamptz", "bigint", "varchar", "varchar", "varchar", "varchar", "varchar",
    "jsonb", "jsonb", "varchar", "varchar", "text", "text", "text",
)  # fmt: skip
_OBJECT_ID, _AFTER = 6, 8  # the positions of object_id and after among them
_APPEND_ARGS = ", ".join(f"%s::{kind}" for kind in _ARG_TYPES)
# arrays bound in binary by the server (``pg_execute``): a JSON text in an array bound
# client-side has each of its quotes escaped in Python
_APPEND_MANY_ARGS = ", ".join(f"%b::{kind}[]" for kind in _ARG_TYPES)


def _adopt(event: AuditEvent, row) -> None:
    """Take the id, sequence number and hashes the database gave ``event``."""
    event.pk, event.seq, event.prev_hash, event.hash = row
    event._state.adding = False
    event._state.db = connection.alias


def _append_in_database(event: AuditEvent) -> bool:
    """One round trip: lock the head (seeding it if missing), hash, insert, move the
    head (``audit_append()``). False when the text needs the ORM path."""
    pieces = canonical_pieces(event.as_record())
    if pieces is None:
        return False
    with connection.cursor() as cursor:
        sql = f"SELECT * FROM audit_append({_APPEND_ARGS})"  # noqa: S608 (fixed text)
        cursor.execute(sql, [*_append_params(event), *pieces])
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("audit_append() appended nothing")
    _adopt(event, row)
    return True


def append_call(action: str, *, object_type: str, id_sql: str, after=None, id_key: str = ""):
    """``(sql, params)`` of an ``audit_append()`` call for use inside another statement
    that inserts the object the event is about, whose id is only known there
    (``id_sql``, an SQL expression of that statement such as ``raw.id``): the event's
    canonical text is cut around one-time markers in place of the object's id, and
    the database joins the pieces around the id. ``id_key`` names the key of ``after``
    that holds the id as a number (a snapshot's ``id``), filled in the same way. The
    call seeds a missing chain head, so it always appends (one event per row it is
    called for). None where appends are not made by the database (SQLite, or text the
    server would hash differently)."""
    if not _uses_append_function():
        return None
    as_text = secrets.token_hex(16)  # the id as object_id holds it, inside its quotes
    as_number = json.dumps(secrets.token_hex(16))  # the id as a number, quotes included
    if id_key:
        after = {**after, id_key: json.loads(as_number)}
    event = _new_event(action, object_type=object_type, object_id=as_text, after=after)
    pieces = canonical_pieces(event.as_record())
    holes = (as_text, as_number) if id_key else (as_text,)
    head = pieces and _cut(pieces[0], holes)
    if not head or any(hole in pieces[1] + pieces[2] for hole in holes):
        return None
    object_id = f"({id_sql})::text"
    args = [f"%s::{kind}" for kind in _ARG_TYPES]
    values = [[value] for value in [*_append_params(event), None, *pieces[1:]]]
    args[_OBJECT_ID], values[_OBJECT_ID] = object_id, []
    args[-3], values[-3] = _joined(head, object_id), head
    if id_key:
        stored = _cut(values[_AFTER][0], (as_number,))  # the after column's JSON text
        if stored is None:
            return None
        args[_AFTER], values[_AFTER] = f"({_joined(stored, object_id)})::jsonb", stored
    return f"audit_append({', '.join(args)})", [value for group in values for value in group]


def _cut(text: str, holes: tuple[str, ...]) -> list[str] | None:
    """``text`` cut at each of ``holes`` (each found exactly once), in the order found:
    the pieces the id is put between. None when a hole is missing or repeated."""
    if any(text.count(hole) != 1 for hole in holes):
        return None
    pieces, rest = [], text
    for hole in sorted(holes, key=text.index):
        piece, rest = rest.split(hole)
        pieces.append(piece)
    return [*pieces, rest]


def _joined(pieces: list[str], value_sql: str) -> str:
    """SQL joining ``len(pieces)`` text parameters with ``value_sql`` between each two."""
    return f" || {value_sql} || ".join(["%s"] * len(pieces))


def _append_many_in_database(events: list[AuditEvent]) -> bool:
    """One round trip: ``audit_append_many()`` locks the head once (seeding it if
    missing), chains, hashes and inserts the events in order, and moves the head once
    (each argument an array with one element per event). False when the text of one
    needs the ORM path."""
    columns: list[list] = [[] for _ in _ARG_TYPES]
    for event in events:
        pieces = canonical_pieces(event.as_record())
        if pieces is None:
            return False
        for column, value in zip(columns, [*_append_params(event), *pieces], strict=True):
            column.append(value)
    answers = pg_execute(f"SELECT * FROM audit_append_many({_APPEND_MANY_ARGS})", columns)  # noqa: S608
    seqs = [row[1] for row in answers]
    if len(answers) != len(events) or seqs != list(range(seqs[0], seqs[0] + len(events))):
        raise RuntimeError("audit_append_many() did not append the events in order")
    for event, row in zip(events, answers, strict=True):
        _adopt(event, row)
    return True


def _append_params(event: AuditEvent) -> list:
    return [
        event.created_at,
        event.actor_id,
        event.actor_username,
        event.actor_token,
        event.action,
        event.object_type,
        event.object_id,
        None if event.before is None else json.dumps(event.before),
        None if event.after is None else json.dumps(event.after),
        event.request_id,
        event.source_address,
    ]


def record_decision(action: str, obj, **details) -> AuditEvent:
    """A decision (approval, rejection, acceptance, triage...) with its reasons."""
    return record(action, obj=obj, after=details or None)


def sign_checkpoint() -> AuditCheckpoint | None:
    """Sign the Merkle root of the whole trail as it stands (hourly from beat).

    A checkpoint vouches only for a trail that was intact when it was made, so
    this refuses (``TrailTampered``) when the trail no longer extends the
    previous checkpoint or an event added since does not verify. Events the
    previous checkpoint covers are checked for order and links only: its
    signed root already pins their hashes, and ``verify_audit`` re-hashes
    everything. Idempotent: with nothing appended since the last checkpoint,
    that one is returned and nothing is written. None while the trail is empty.
    """
    key = signing.required_signing_key()
    origin = signing.log_origin()
    head = AuditChainHead.objects.filter(pk=1).first()
    size = head.last_seq if head else 0
    latest = AuditCheckpoint.objects.order_by("-tree_size").first()
    if latest is not None and latest.tree_size > size:
        raise TrailTampered(
            f"the chain head records {size} events, fewer than the {latest.tree_size} of the"
            " last signed checkpoint (events removed from the end)"
        )
    if size == 0 or (latest is not None and latest.tree_size == size):
        return latest
    from audit import keys, proofs

    pinned, last_hash = 0, GENESIS_HASH
    if latest is not None:
        _check_own_signature(latest, key)
        pinned = latest.tree_size
        last_hash = _check_pinned_prefix(latest)
    added = (
        event.as_record()
        for event in AuditEvent.objects.filter(seq__gt=pinned, seq__lte=size)
        .order_by("seq")
        .iterator(2000)
    )
    result = check_log(added, after=(pinned, last_hash))
    if not result.intact:
        raise TrailTampered(
            f"audit chain broken at sequence {result.first_bad_seq}: {result.reason}"
        )
    if pinned + result.verified != size:
        raise TrailTampered(
            f"the chain head records {size} events but {pinned + result.verified} exist"
        )
    proofs.index_tree(size)
    root = proofs.root_at(size)
    checkpoint = Checkpoint(origin=origin, tree_size=size, root_hash=root)
    _, signature = sign_note(checkpoint, key)
    row = AuditCheckpoint(
        tree_size=size,
        root_hash=checkpoint.root_hash.hex(),
        signed_text=checkpoint.body(),
        signature=base64.b64encode(signature).decode(),
        key_id=key_id(origin, key.public_key()).hex(),
        created_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # signed at the same size by a concurrent run: same content
        return AuditCheckpoint.objects.get(tree_size=size)
    keys.register(key.public_key())
    return row


def _check_pinned_prefix(latest: AuditCheckpoint) -> str:
    """That the events the last checkpoint covers still hash to its signed root; returns
    the hash of its last event, which the next event must link to.

    The root is taken from the stored tree nodes (written from the events when
    each checkpoint was signed) and the events after the last complete run of
    256; the run holding the last event is re-read from the events too, so that
    event's hash is pinned by the signed root. Events deeper in the prefix are
    re-hashed by ``verify_audit``, not at every signing.
    """
    from audit import proofs

    size = latest.tree_size
    proofs.index_tree(size)
    stated = bytes.fromhex(latest.root_hash)
    problem = (
        f"the first {size} events do not hash to the signed checkpoint's root (events before"
        " it altered and re-hashed, removed or replaced)"
    )
    if proofs.root_at(size) != stated:
        raise TrailTampered(problem)
    if size % proofs.BLOCK == 0:
        block = size // proofs.BLOCK - 1
        from_events = proofs.perfect_root(proofs._level_hashes(0, block * proofs.BLOCK, size))
        stored = AuditTreeNode.objects.filter(level=proofs.STRIDE, index=block).first()
        if stored is None or stored.hash != from_events.hex():
            raise TrailTampered(problem)
    last = AuditEvent.objects.filter(seq=size).values_list("hash", flat=True).first()
    if last is None:
        raise TrailTampered(f"event {size}, the last the signed checkpoint covers, is missing")
    return last


def _check_own_signature(checkpoint: AuditCheckpoint, key) -> None:
    """Never extend a checkpoint row that was altered under our own key."""
    public = key.public_key()
    origin = Checkpoint.parse(checkpoint.signed_text).origin
    if checkpoint.key_id != key_id(origin, public).hex():
        return  # signed before a key rotation: its root is taken as recorded
    try:
        opened = open_note(checkpoint.note(), public)
    except CheckpointError as exc:
        raise TrailTampered(f"the last signed checkpoint does not verify: {exc}") from None
    if opened.tree_size != checkpoint.tree_size or opened.root_hash.hex() != checkpoint.root_hash:
        raise TrailTampered("the last checkpoint's fields differ from its signed text")
