"""The hash chain: one canonical serialization, one hash function.

Kept free of Django imports so an auditor can verify an exported log with
nothing but Python (see ``audit.verify``).
"""

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


def event_hash(record: dict) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def verify_records(records) -> tuple[int, int | None, str]:
    """Walk records in sequence order; return (verified, first_bad_seq, reason)."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    verified = 0
    for record in records:
        seq = record["seq"]
        if seq != expected_seq:
            return verified, expected_seq, f"expected sequence {expected_seq}, found {seq}"
        if record["prev_hash"] != expected_prev:
            return verified, seq, "previous-hash link broken (event removed, inserted or reordered)"
        if event_hash(record) != record["hash"]:
            return verified, seq, "content does not match its hash (event altered)"
        expected_prev = record["hash"]
        expected_seq += 1
        verified += 1
    return verified, None, ""
