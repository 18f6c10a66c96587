"""Merkle proofs over the stored trail, from stored subtree hashes (``AuditTreeNode``).

A proof names subtrees by their leaf ranges (``govreg_verify.merkle``); each
range is a run of perfect aligned subtrees, and each of those is answered from
the stored node at its height when it is a multiple of ``STRIDE``, else from
at most ``2**STRIDE - 1`` stored nodes (or event hashes) one stored level
below. A proof at a million events reads a few hundred rows in two queries
instead of rehashing the log. Nodes a signer has not stored yet (events after
the last checkpoint) are computed from the level below.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Max, Q

from audit.models import AuditEvent, AuditTreeNode
from govreg_verify.merkle import aligned_subtrees, combine, leaf_hash, node_hash

STRIDE = 8
BLOCK = 1 << STRIDE
BATCH = 2000


def perfect_root(nodes: list[bytes]) -> bytes:
    """The root of a perfect subtree from its 2**k lowest nodes (already hashed)."""
    while len(nodes) > 1:
        nodes = [node_hash(nodes[i], nodes[i + 1]) for i in range(0, len(nodes), 2)]
    return nodes[0]


def index_tree(size: int) -> int:
    """Store every node at a stored level whose subtree lies within the first ``size``
    events; returns how many were written. Idempotent; concurrent runs write the
    same rows (conflicts ignored)."""
    written = 0
    level = STRIDE
    while (size >> level) > 0:
        have = AuditTreeNode.objects.filter(level=level).aggregate(top=Max("index"))["top"]
        start, end = (0 if have is None else have + 1), size >> level
        for first in range(start, end, BATCH):
            last = min(end, first + BATCH)
            below = _level_hashes(level - STRIDE, first * BLOCK, last * BLOCK)
            rows = [
                AuditTreeNode(
                    level=level,
                    index=index,
                    hash=perfect_root(
                        below[(index - first) * BLOCK : (index - first + 1) * BLOCK]
                    ).hex(),
                )
                for index in range(first, last)
            ]
            AuditTreeNode.objects.bulk_create(rows, ignore_conflicts=True)
            written += len(rows)
        level += STRIDE
    return written


def _level_hashes(level: int, start: int, end: int) -> list[bytes]:
    """Hashes of the perfect subtrees at a stored ``level`` with indexes [start, end)."""
    if level == 0:
        hashes = list(
            AuditEvent.objects.filter(seq__gt=start, seq__lte=end)
            .order_by("seq")
            .values_list("hash", flat=True)
        )
        if len(hashes) != end - start:
            raise ValueError(f"the trail holds no events {start + 1}..{end}")
        return [leaf_hash(bytes.fromhex(value)) for value in hashes]
    stored = dict(
        AuditTreeNode.objects.filter(level=level, index__gte=start, index__lt=end).values_list(
            "index", "hash"
        )
    )
    out = []
    for index in range(start, end):
        if index in stored:
            out.append(bytes.fromhex(stored[index]))
        else:
            below = _level_hashes(level - STRIDE, index * BLOCK, (index + 1) * BLOCK)
            out.append(perfect_root(below))
    return out


def resolve(ranges: Iterable[tuple[int, int]]) -> list[bytes]:
    """The subtree hash of each leaf range (as proofs name them), in batched queries."""
    ranges = list(ranges)
    out: list[bytes] = []
    for first in range(0, len(ranges), BATCH):
        out.extend(_resolve_batch(ranges[first : first + BATCH]))
    return out


def _resolve_batch(ranges: list[tuple[int, int]]) -> list[bytes]:
    # Each perfect part (height h, index i) is read at the stored level at or below h.
    plans = []
    wanted: dict[int, set[int]] = defaultdict(set)
    for start, end in ranges:
        parts = []
        for height, index in aligned_subtrees(start, end):
            base = height - height % STRIDE
            span = 1 << (height - base)
            parts.append((base, index * span, (index + 1) * span))
            wanted[base].update(range(index * span, (index + 1) * span))
        plans.append(parts)
    known: dict[tuple[int, int], bytes] = {}
    leaves = sorted(wanted.pop(0, ()))
    if leaves:
        spans = _spans(leaves)
        query = Q()
        for first, last in spans:
            query |= Q(seq__gt=first, seq__lte=last)
        for seq, value in AuditEvent.objects.filter(query).values_list("seq", "hash"):
            known[(0, seq - 1)] = leaf_hash(bytes.fromhex(value))
        if len(known) != len(leaves):
            raise ValueError("the trail is missing events a proof needs")
    if wanted:
        query = Q()
        for level, indexes in wanted.items():
            for first, last in _spans(sorted(indexes)):
                query |= Q(level=level, index__gte=first, index__lt=last)
        for level, index, value in AuditTreeNode.objects.filter(query).values_list(
            "level", "index", "hash"
        ):
            known[(level, index)] = bytes.fromhex(value)
    out = []
    for parts in plans:
        hashes = []
        for base, first, last in parts:
            below = [known.get((base, index)) for index in range(first, last)]
            for offset, value in enumerate(below):
                if value is None:  # not stored yet: computed from the level below
                    index = first + offset
                    below[offset] = perfect_root(
                        _level_hashes(base - STRIDE, index * BLOCK, (index + 1) * BLOCK)
                    )
            hashes.append(perfect_root(below))
        out.append(combine(hashes))
    return out


def _spans(indexes: list[int]) -> list[tuple[int, int]]:
    """Sorted indexes as [first, last) runs."""
    spans: list[tuple[int, int]] = []
    for index in indexes:
        if spans and spans[-1][1] == index:
            spans[-1] = (spans[-1][0], index + 1)
        else:
            spans.append((index, index + 1))
    return spans


def root_at(size: int) -> bytes:
    """The Merkle root of the first ``size`` events, from stored nodes."""
    from govreg_verify.merkle import EMPTY_ROOT

    if size == 0:
        return EMPTY_ROOT
    return resolve([(0, size)])[0]


def current_size() -> int:
    from audit.models import AuditChainHead

    head = AuditChainHead.objects.filter(pk=1).first()
    return head.last_seq if head else 0


def inclusion(seq: int, tree_size: int) -> dict:
    """The RFC 6962 audit path of event ``seq`` in the tree of the first ``tree_size``
    events, with the event's hash and the tree's root."""
    from govreg_verify.merkle import inclusion_ranges

    ranges = inclusion_ranges(seq - 1, tree_size)
    hashes = resolve([*ranges, (0, tree_size)])
    event_hash = AuditEvent.objects.values_list("hash", flat=True).get(seq=seq)
    return {"event_hash": event_hash, "audit_path": hashes[:-1], "root_hash": hashes[-1]}


def consistency(old_size: int, new_size: int) -> dict:
    """The RFC 6962 consistency proof from ``old_size`` to ``new_size`` events, with
    both roots."""
    from govreg_verify.merkle import consistency_ranges

    ranges = consistency_ranges(old_size, new_size) if old_size < new_size else []
    hashes = resolve([*ranges, (0, old_size), (0, new_size)])
    return {"proof": hashes[:-2], "old_root": hashes[-2], "new_root": hashes[-1]}
