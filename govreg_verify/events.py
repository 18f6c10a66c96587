"""The hash chain: one canonical serialization, one hash function."""

import hashlib
import json
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64

HASHED_FIELDS = (
    "seq",
    "created_at",
    "actor_id",
    "actor_username",
    "actor_token",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "request_id",
    "source_address",
    "prev_hash",
)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(record: dict) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same bytes for the same event everywhere."""
    payload = {name: record.get(name) for name in HASHED_FIELDS}
    if isinstance(payload["created_at"], datetime):
        payload["created_at"] = format_time(payload["created_at"])
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_PREV = "\u0001prev_hash\u0001"
_SEQ = "\u0001seq\u0001"


def canonical_pieces(record: dict) -> tuple[str, str, str] | None:
    """The canonical JSON of ``record`` cut around its ``prev_hash`` and ``seq`` values.

    ``head + prev_hash + middle + str(seq) + tail`` is exactly ``canonical()``
    once both are known, which lets the database fill them in under its lock.
    None when the record's own text happens to contain a marker.
    """
    text = canonical({**record, "prev_hash": _PREV, "seq": _SEQ}).decode()
    prev_marker, seq_marker = json.dumps(_PREV), json.dumps(_SEQ)
    if text.count(prev_marker) != 1 or text.count(seq_marker) != 1:
        return None
    head, rest = text.split(prev_marker)
    middle, tail = rest.split(seq_marker)
    if seq_marker in head:
        return None
    return head + '"', '"' + middle, tail


def event_hash(record: dict) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()
