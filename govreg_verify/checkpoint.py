"""Signed checkpoints: "the log had N events and this was their Merkle root".

The text follows the transparency-log checkpoint and signed-note formats
(C2SP tlog-checkpoint, signed-note), so the notes look like those of
Certificate Transparency, Go's checksum database or Sigstore's Rekor:

    govreg.example.com/audit
    1234
    1B2M2Y8AsgTpgAmY7PhCfg+3M+4ybQUNbF4q4FxtuBc=

    — govreg.example.com/audit kZ3aQ... (base64 of key id || Ed25519 signature)

The body is three lines (origin, tree size in decimal, base64 root hash); the
signature covers the body's bytes. The key id is the first four bytes of
SHA-256(key name || 0x0A || 0x01 || raw public key), 0x01 meaning Ed25519.
"""

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space open each signature line
ED25519 = b"\x01"


class CheckpointError(ValueError):
    """A checkpoint note that is malformed or whose signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes

    def __post_init__(self):
        check_key_name(self.origin, what="origin")
        if self.tree_size < 0:
            raise CheckpointError("tree size must not be negative")
        if len(self.root_hash) != 32:
            raise CheckpointError("root hash must be 32 bytes (SHA-256)")

    def body(self) -> str:
        root = base64.b64encode(self.root_hash).decode()
        return f"{self.origin}\n{self.tree_size}\n{root}\n"

    @classmethod
    def parse(cls, body: str) -> "Checkpoint":
        if not body.endswith("\n"):
            raise CheckpointError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint body needs an origin, a tree size and a root hash")
        origin, size, root = lines[:3]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise CheckpointError(f"tree size is not a decimal number: {size!r}")
        try:
            root_hash = base64.b64decode(root, validate=True)
        except binascii.Error:
            raise CheckpointError(f"root hash is not base64: {root!r}") from None
        return cls(origin=origin, tree_size=int(size), root_hash=root_hash)


def check_key_name(name: str, *, what: str = "key name") -> None:
    if not name or any(ch.isspace() for ch in name) or "+" in name:
        raise CheckpointError(f"{what} must be non-empty, without spaces or '+': {name!r}")


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The four bytes that tell which key signed a note (signed-note key hash)."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + raw_public_key(public_key)).digest()[:4]


def signature_line(name: str, public_key: Ed25519PublicKey, signature: bytes) -> str:
    blob = base64.b64encode(key_id(name, public_key) + signature).decode()
    return f"{SIGNATURE_PREFIX}{name} {blob}\n"


def sign_note(checkpoint: Checkpoint, private_key: Ed25519PrivateKey) -> tuple[str, bytes]:
    """Sign ``checkpoint`` under its origin; returns (full note text, raw signature)."""
    body = checkpoint.body()
    signature = private_key.sign(body.encode())
    line = signature_line(checkpoint.origin, private_key.public_key(), signature)
    return body + "\n" + line, signature


def split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """(body, [(key name, key id, signature), ...]) of a signed note."""
    # a file's trailing blank lines are not part of the note
    body, separator, signatures = (note.rstrip("\n") + "\n").rpartition("\n\n")
    if not separator:
        raise CheckpointError("not a signed note: no blank line before the signatures")
    body += "\n"
    found = []
    for line in signatures.split("\n"):
        if not line:
            continue
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointError(f"malformed signature line: {line!r}")
        name, _, blob = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error:
            raise CheckpointError(f"signature of {name!r} is not base64") from None
        if len(raw) < 5:
            raise CheckpointError(f"signature of {name!r} is too short")
        found.append((name, raw[:4], raw[4:]))
    if not found:
        raise CheckpointError("the note carries no signature")
    return body, found


def verify_signature(body: str, signature: bytes, public_key: Ed25519PublicKey, name: str) -> None:
    try:
        public_key.verify(signature, body.encode())
    except InvalidSignature:
        raise CheckpointError(
            f"checkpoint signature does not verify with the key {key_id(name, public_key).hex()}"
        ) from None


def open_note(note: str, public_key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint in ``note`` once its origin's signature verifies with ``public_key``."""
    body, signatures = split_note(note)
    checkpoint = Checkpoint.parse(body)
    wanted = key_id(checkpoint.origin, public_key)
    for name, kid, signature in signatures:
        if name == checkpoint.origin and kid == wanted:
            verify_signature(body, signature, public_key, name)
            return checkpoint
    held = ", ".join(kid.hex() for _, kid, _ in signatures)
    raise CheckpointError(
        f"checkpoint is not signed by the key {wanted.hex()} for {checkpoint.origin!r}"
        f" (signed by {held})"
    )


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    """A PEM (PKCS#8) Ed25519 private key, or the base64 of its 32 raw bytes."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text, password=None)
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"not a readable PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise CheckpointError("the PEM private key is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise CheckpointError("neither a PEM key nor base64") from None
    if len(raw) != 32:
        raise CheckpointError(f"a raw Ed25519 private key is 32 bytes, this one is {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """A PEM (SubjectPublicKeyInfo) Ed25519 public key, or the base64 of its 32 raw bytes."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text)
        except ValueError as exc:
            raise CheckpointError(f"not a readable PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise CheckpointError("the PEM public key is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise CheckpointError("neither a PEM key nor base64") from None
    if len(raw) != 32:
        raise CheckpointError(f"a raw Ed25519 public key is 32 bytes, this one is {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def private_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
