"""RFC 6962 Merkle tree hashing over the audit events' hashes.

A leaf is one event's SHA-256 hash (32 bytes). Leaf and interior nodes are
hashed with different prefixes so that no leaf can pass for a subtree:

    leaf = SHA-256(0x00 || event hash bytes)
    node = SHA-256(0x01 || left || right)

and the root of n leaves splits at the largest power of two below n (RFC 6962
section 2.1), the same tree Certificate Transparency logs use.
"""

import hashlib
from collections.abc import Iterable

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: list[bytes]) -> bytes:
    """The root of ``leaves`` (leaf data, not yet hashed), straight from the definition."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(merkle_root(leaves[:split]), merkle_root(leaves[split:]))


class TreeBuilder:
    """Grows a tree one leaf at a time; ``root()`` at any size costs O(log n).

    Keeps only the roots of the perfect subtrees the current size decomposes
    into (one per set bit), so a log of any length is hashed in one pass with
    a few dozen hashes of memory, and the root of every prefix is at hand.
    """

    def __init__(self) -> None:
        self._subtrees: list[tuple[int, bytes]] = []  # (height, hash), tallest first
        self.size = 0

    def add(self, data: bytes) -> None:
        height, node = 0, leaf_hash(data)
        while self._subtrees and self._subtrees[-1][0] == height:
            _, left = self._subtrees.pop()
            height, node = height + 1, node_hash(left, node)
        self._subtrees.append((height, node))
        self.size += 1

    def root(self) -> bytes:
        if not self._subtrees:
            return EMPTY_ROOT
        node = self._subtrees[-1][1]
        for _, left in reversed(self._subtrees[:-1]):
            node = node_hash(left, node)
        return node


def event_leaves(event_hashes: Iterable[str]) -> Iterable[bytes]:
    """The leaf data of events given by their hex hashes."""
    return (bytes.fromhex(value) for value in event_hashes)


def root_of_events(event_hashes: Iterable[str]) -> bytes:
    builder = TreeBuilder()
    for leaf in event_leaves(event_hashes):
        builder.add(leaf)
    return builder.root()


# --- proofs (RFC 6962 section 2.1.1 and 2.1.2; verification as RFC 9162 section 2.1.3-2.1.4)
#
# A proof is a list of subtree hashes. The functions below that build proofs
# return the *ranges* [start, end) of leaves whose subtree hash goes into the
# proof, so the server can answer them from whatever it stores (stored interior
# nodes, leaves) and a test can answer them from a list of leaves.


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): where RFC 6962 splits."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges of the audit path of leaf ``index`` (0-based) in a tree of ``size``."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start = start + k
    ranges.reverse()  # RFC 6962 lists the path from the leaf up
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges of the consistency proof from ``old_size`` to ``new_size``."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size}")
    ranges: list[tuple[int, int]] = []

    def subproof(m: int, start: int, end: int, whole: bool) -> None:
        n = end - start
        if m == n:
            if not whole:
                ranges.append((start, end))
            return
        k = split_point(n)
        if m <= k:
            subproof(m, start, start + k, whole)
            ranges.append((start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            ranges.append((start, start + k))

    subproof(old_size, 0, new_size, True)
    return ranges


def aligned_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """``[start, end)`` as (height, index) of the perfect aligned subtrees it is made of.

    Every range a proof names starts at a multiple of a power of two at least as
    large as itself, so it is a run of perfect subtrees, tallest first: one hash
    each, combined right to left with ``node_hash`` gives its subtree hash.
    """
    parts = []
    while start < end:
        height = (end - start).bit_length() - 1
        while start % (1 << height):
            height -= 1
        parts.append((height, start >> height))
        start += 1 << height
    return parts


def combine(parts: list[bytes]) -> bytes:
    """The subtree hash of a run of perfect subtrees' hashes (tallest first)."""
    node = parts[-1]
    for left in reversed(parts[:-1]):
        node = node_hash(left, node)
    return node


def subtree_hash(leaves: list[bytes], start: int, end: int) -> bytes:
    """MTH(leaves[start:end]) from leaf data, for tests and small trees."""
    return merkle_root(leaves[start:end])


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows leaf data ``leaf`` at ``index`` in the tree of ``size``/``root``."""
    if not 0 <= index < size:
        return False
    fn, sn, node = index, size - 1, leaf_hash(leaf)
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = node_hash(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and node == root


def verify_consistency(
    old_size: int, old_root: bytes, new_size: int, new_root: bytes, proof: list[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of ``new_size`` extends the one of ``old_size``."""
    if old_size == new_size:
        return not proof and old_root == new_root
    if not 0 < old_size < new_size or not proof:
        return False
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        proof = [old_root, *proof]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old, new = proof[0], proof[0]
    for node in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old, new = node_hash(node, old), node_hash(node, new)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            new = node_hash(new, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and old == old_root and new == new_root


# --- the proof of a set of leaves (an export's events)
#
# An export holds some of the log's events, not all. Its proof is the list of
# the hashes of the largest subtrees that hold none of the exported leaves, left
# to right: with the exported leaves themselves they give back the root, so one
# short list proves every exported event (a contiguous period needs about two
# hashes per tree level; one event alone needs exactly its RFC 6962 audit path).


def gap_ranges(size: int, held: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The maximal subtrees of a tree of ``size`` leaves that hold no leaf in ``held``.

    ``held`` is sorted, disjoint [start, end) leaf ranges (0-based). Returns leaf
    ranges in left-to-right order: the order the proof lists their hashes.
    """
    out: list[tuple[int, int]] = []
    position = 0  # the first held range that may still overlap what we look at

    def walk(start: int, end: int) -> None:
        nonlocal position
        while position < len(held) and held[position][1] <= start:
            position += 1
        if position == len(held) or held[position][0] >= end:
            out.append((start, end))
            return
        if end - start == 1:
            return  # a held leaf
        first, last = held[position]
        if first <= start and last >= end:
            return  # wholly held
        k = split_point(end - start)
        walk(start, start + k)
        walk(start + k, end)

    if size:
        walk(0, size)
    return out


class ProofExhausted(ValueError):
    """The proof ran out of hashes (or leaves) before the tree was complete."""


def root_from_leaves_and_gaps(size: int, leaves, gaps) -> bytes:
    """The root of a tree of ``size`` from (index, leaf data) pairs and the gap hashes.

    ``leaves`` yields (0-based index, leaf data) in increasing index order and
    ``gaps`` the proof's hashes in order; both are consumed as the tree is
    walked left to right, so a log of any length is checked in constant memory.
    Raises ``ProofExhausted`` when either runs short and ``ValueError`` when one
    has items left over.
    """
    leaves, gaps = iter(leaves), iter(gaps)
    pending = next(leaves, None)

    def walk(start: int, end: int) -> bytes:
        nonlocal pending
        if pending is None or pending[0] >= end:
            node = next(gaps, None)
            if node is None:
                raise ProofExhausted(f"the proof has no hash for leaves {start}..{end - 1}")
            return node
        if end - start == 1:
            node = leaf_hash(pending[1])
            pending = next(leaves, None)
            return node
        k = split_point(end - start)
        left = walk(start, start + k)
        return node_hash(left, walk(start + k, end))

    if size == 0:
        root = EMPTY_ROOT
    else:
        if pending is not None and pending[0] < 0:
            raise ValueError(f"leaf index {pending[0]} is negative")
        root = walk(0, size)
    if pending is not None:
        raise ValueError(f"leaf {pending[0]} lies beyond the tree of {size}")
    if next(gaps, None) is not None:
        raise ValueError("the proof has more hashes than the tree needs")
    return root
