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
