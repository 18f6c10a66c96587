"""The hash chain, as the server uses it.

The canonical serialization and the hashing live in ``govreg_verify`` (plain
Python, no Django), so the server and an auditor's offline check run the very
same code; this module only names them for the audit app.

``canonical_row`` is the exports' fast path to the same bytes: it starts from an
event's stored columns (``before`` and ``after`` as their JSON text) and writes
the line with orjson. ``govreg_verify.events.canonical`` stays the reference:
``tests/audit/test_export_speed_paths.py`` holds the two byte-identical, and
whatever orjson cannot write exactly (an integer past 64 bits, nesting past its
depth limit, a string that is not UTF-8) goes through the reference instead.
"""

import json
from datetime import datetime

import orjson

from govreg_verify.events import (
    _PREV,
    _SEQ,
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical,
    canonical_pieces,
    event_hash,
    format_time,
)
from govreg_verify.log import check_log, verify_records

__all__ = [
    "_PREV",
    "_SEQ",
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "canonical",
    "canonical_pieces",
    "canonical_row",
    "check_log",
    "event_hash",
    "format_time",
    "verify_records",
]

_CONSTANTS = {"NaN": b"NaN", "Infinity": b"Infinity", "-Infinity": b"-Infinity"}


def _float_fragment(text: str) -> orjson.Fragment:
    """A JSON number with a fraction or exponent, written as ``json.dumps`` writes the float
    ``json.loads`` makes of it (``repr``; ``Infinity`` past the float range)."""
    value = float(text)
    if value != value:
        return orjson.Fragment(b"NaN")
    if value in (float("inf"), float("-inf")):
        return orjson.Fragment(b"Infinity" if value > 0 else b"-Infinity")
    return orjson.Fragment(float.__repr__(value))


def _constant_fragment(text: str) -> orjson.Fragment:
    return orjson.Fragment(_CONSTANTS[text])


_EXACT = json.JSONDecoder(parse_float=_float_fragment, parse_constant=_constant_fragment)
_scan = _EXACT.scan_once


def _load_exact(text):
    """A stored JSON field's text as orjson writes it back exactly: floats and the
    non-finite constants kept as fragments of their ``json.dumps`` text."""
    if text is None:
        return None
    try:
        value, end = _scan(text, 0)  # the C scanner, without decode()'s whitespace regexes
        if end == len(text):
            return value
    except (StopIteration, json.JSONDecodeError):
        pass  # not JSON, or space around it: decode() tells
    try:
        return _EXACT.decode(text)
    except json.JSONDecodeError:
        return text  # as Django's JSONField reads a value that is not JSON: the text itself


def _load_plain(text):
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def canonical_row(
    seq,
    created_at,
    actor_id,
    actor_username,
    actor_token,
    action,
    object_type,
    object_id,
    before,
    after,
    request_id,
    source_address,
    prev_hash,
) -> bytes:
    """``canonical()`` of the event whose columns these are, the same bytes, faster.

    ``created_at`` is a datetime or its ``format_time`` text; ``before`` and
    ``after`` are the JSON text stored in the database (or None for SQL NULL).
    """
    if isinstance(created_at, datetime):
        created_at = format_time(created_at)
    record = {
        "seq": seq,
        "created_at": created_at,
        "actor_id": actor_id,
        "actor_username": actor_username,
        "actor_token": actor_token,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "request_id": request_id,
        "source_address": source_address,
        "prev_hash": prev_hash,
    }
    try:
        return orjson.dumps(
            record | {"before": _load_exact(before), "after": _load_exact(after)},
            option=orjson.OPT_SORT_KEYS,
        )
    except orjson.JSONEncodeError:
        return canonical(record | {"before": _load_plain(before), "after": _load_plain(after)})
