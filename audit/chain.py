"""The hash chain, as the server uses it.

The canonical serialization and the hashing live in ``govreg_verify`` (plain
Python, no Django), so the server and an auditor's offline check run the very
same code; this module only names them for the audit app.
"""

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
    "check_log",
    "event_hash",
    "format_time",
    "verify_records",
]
