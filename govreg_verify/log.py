"""Verifying a whole log: the hash chain, and that it extends signed checkpoints."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from govreg_verify.events import GENESIS_HASH, event_hash
from govreg_verify.merkle import TreeBuilder


@dataclass
class LogCheck:
    """What one pass over the events found.

    ``verified`` events form an unbroken chain from the genesis; if the walk
    stopped early, ``first_bad_seq`` and ``reason`` say where and why.
    ``roots`` holds the Merkle root of the first N events for each asked N
    the intact part reached.
    """

    verified: int = 0
    first_bad_seq: int | None = None
    reason: str = ""
    roots: dict[int, bytes] = field(default_factory=dict)

    @property
    def intact(self) -> bool:
        return self.first_bad_seq is None


def check_log(
    records: Iterable[dict],
    *,
    root_sizes: Iterable[int] = (),
    content_from: int = 1,
    after: tuple[int, str] = (0, GENESIS_HASH),
) -> LogCheck:
    """Walk records in sequence order, checking every link and hash, in one pass.

    Each record is a dict with the hashed fields plus ``hash``. The Merkle
    tree over the verified hashes grows as it goes, so the root at every size
    in ``root_sizes`` is known when the walk ends. Records numbered below
    ``content_from`` are checked for order and links only and may carry just
    ``seq``, ``prev_hash`` and ``hash``: for a prefix already pinned by a
    checkpoint's root, the root settles their hashes.

    ``after`` = (seq, hash) starts the walk after an event already checked: the
    first record must then be ``seq + 1`` and link to ``hash``. ``verified``
    counts the records walked, and ``roots`` is then over those records only.
    """
    wanted = set(root_sizes)
    result = LogCheck()
    tree = TreeBuilder()
    if 0 in wanted:
        result.roots[0] = tree.root()
    offset, expected_prev = after
    for record in records:
        seq, expected_seq = record["seq"], offset + result.verified + 1
        if seq != expected_seq:
            result.first_bad_seq = expected_seq
            result.reason = f"expected sequence {expected_seq}, found {seq}"
            return result
        if record["prev_hash"] != expected_prev:
            result.first_bad_seq = seq
            result.reason = "previous-hash link broken (event removed, inserted or reordered)"
            return result
        if seq >= content_from and event_hash(record) != record["hash"]:
            result.first_bad_seq = seq
            result.reason = "content does not match its hash (event altered)"
            return result
        expected_prev = record["hash"]
        tree.add(bytes.fromhex(record["hash"]))
        result.verified += 1
        if tree.size in wanted:
            result.roots[tree.size] = tree.root()
    return result


def verify_records(records: Iterable[dict]) -> tuple[int, int | None, str]:
    """Walk records in sequence order; return (verified, first_bad_seq, reason)."""
    result = check_log(records)
    return result.verified, result.first_bad_seq, result.reason


def extension_problem(result: LogCheck, tree_size: int, root_hash: bytes) -> str | None:
    """Why the intact log does not extend a checkpoint of ``tree_size`` events, or None."""
    if result.verified < tree_size:
        return (
            f"the log holds {result.verified} intact events but a signed checkpoint covers "
            f"{tree_size} (events removed from the end)"
        )
    if tree_size not in result.roots:
        raise ValueError(f"check_log was not asked for the root at size {tree_size}")
    if result.roots[tree_size] != root_hash:
        return (
            f"the first {tree_size} events do not hash to the signed checkpoint's root "
            "(events before it altered and re-hashed, removed or replaced)"
        )
    return None
