"""Offline verification of the govreg audit trail, in plain Python.

Everything that decides whether an audit log is intact lives here and nowhere
else: the canonical serialization of an event and its hash (``events``), the
RFC 6962 Merkle tree over the event hashes (``merkle``) and the signed
checkpoint notes (``checkpoint``). The server hashes and signs with these
functions and a regulator verifies an export with the same ones, so the two
can never disagree. No Django import anywhere in this package; the only
dependency is ``cryptography`` for Ed25519.
"""
