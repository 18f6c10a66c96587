"""Export bundles: a zip of files with a signed manifest, and their offline check.

A bundle is a zip archive (docs/audit-formats.md has the exact layout):

    events.jsonl              the audit events, one canonical serialization a line (optional)
    proofs.json               Merkle proofs: the events' gap hashes, consistency proofs
    checkpoint.txt            the signed checkpoint (signed note) the proofs lead to
    public-keys.pem           every public key the deployment signed with
    ...                       whatever else the export carries (a dossier, its PDF)
    manifest.dsse.json        written last: an in-toto Statement v1 listing every other
                              file with its SHA-256, in a DSSE envelope signed with Ed25519

``BundleWriter`` writes one, streaming (each file's bytes go through once,
hashed as they are written); ``verify_bundle`` checks one with nothing but the
standard library and ``cryptography``.
"""

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from govreg_verify.checkpoint import (
    Checkpoint,
    CheckpointError,
    key_id,
    load_public_key,
    open_note,
    public_key_pem,
    split_note,
)
from govreg_verify.events import GENESIS_HASH, HASHED_FIELDS, canonical
from govreg_verify.merkle import ProofExhausted, root_from_leaves_and_gaps, verify_consistency

MANIFEST = "manifest.dsse.json"
EVENTS = "events.jsonl"
PROOFS = "proofs.json"
CHECKPOINT = "checkpoint.txt"
PUBLIC_KEYS = "public-keys.pem"
RESERVED = (MANIFEST, EVENTS, PROOFS, CHECKPOINT, PUBLIC_KEYS)

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:govreg:bundle:v1"
CHUNK = 1 << 16


class BundleError(ValueError):
    """A bundle that cannot be written as asked."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (TypeError, ValueError):
        raise VerifyFailure(what, f"{text!r} is not base64") from None


def public_keys_pem(keys: Iterable[Ed25519PublicKey]) -> bytes:
    return b"".join(public_key_pem(key) for key in keys)


def load_public_keys(data: bytes) -> list[Ed25519PublicKey]:
    """Every PEM public key in ``data`` (several may be concatenated), or one raw base64 key."""
    text = data.decode("ascii", errors="replace")
    end = "-----END PUBLIC KEY-----"
    if "-----BEGIN" not in text:
        return [load_public_key(data)]
    keys = []
    for block in text.split(end):
        if "-----BEGIN" in block:
            keys.append(load_public_key((block.strip() + "\n" + end + "\n").encode()))
    return keys


class BundleWriter:
    """Writes a bundle into ``fileobj`` (any writable binary file, seekable or not).

    ``add()`` each file (bytes, or an iterable of byte chunks streamed through
    once), then ``close()`` with the signing key: it writes the signed manifest
    over everything added and finishes the zip.
    """

    def __init__(self, fileobj, *, compresslevel: int = 1):
        self._zip = zipfile.ZipFile(
            fileobj, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        )
        self.subjects: list[dict] = []
        self._names: set[str] = set()

    def add(self, name: str, data: bytes | Iterable[bytes]) -> str:
        """Add one file; returns its SHA-256 (hex)."""
        if not name or name.startswith("/") or ".." in name.split("/") or name == MANIFEST:
            raise BundleError(f"a bundle cannot hold a file named {name!r}")
        if name in self._names:
            raise BundleError(f"the bundle already holds {name!r}")
        self._names.add(name)
        digest = hashlib.sha256()
        chunks = [data] if isinstance(data, bytes | bytearray | memoryview) else data
        with self._zip.open(name, "w", force_zip64=True) as handle:
            buffered = io.BufferedWriter(handle, CHUNK)
            for chunk in chunks:
                digest.update(chunk)
                buffered.write(chunk)
            buffered.flush()
            buffered.detach()
        self.subjects.append({"name": name, "digest": {"sha256": digest.hexdigest()}})
        return digest.hexdigest()

    def close(self, private_key: Ed25519PrivateKey, *, keyid: str, predicate: dict) -> dict:
        """Sign the manifest, write it and finish the zip; returns the envelope."""
        statement = {
            "_type": STATEMENT_TYPE,
            "subject": self.subjects,
            "predicateType": PREDICATE_TYPE,
            "predicate": predicate,
        }
        payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
        signature = private_key.sign(pae(PAYLOAD_TYPE, payload))
        envelope = {
            "payloadType": PAYLOAD_TYPE,
            "payload": b64(payload),
            "signatures": [{"keyid": keyid, "sig": b64(signature)}],
        }
        self._zip.writestr(MANIFEST, json.dumps(envelope, indent=2) + "\n")
        self._zip.close()
        return envelope


def event_lines(records: Iterable[dict]) -> Iterator[bytes]:
    """``events.jsonl``'s lines: each event's canonical serialization and a newline."""
    for record in records:
        yield canonical(record) + b"\n"


# --- verifying ---------------------------------------------------------------------


class VerifyFailure(Exception):
    def __init__(self, file: str, message: str, seq: int | None = None):
        super().__init__(message)
        self.file, self.message, self.seq = file, message, seq


@dataclass
class Report:
    """What ``verify_bundle`` found: ``ok``, or the first failure (file, sequence, what)."""

    ok: bool = False
    file: str = ""
    seq: int | None = None
    message: str = ""
    kind: str = ""
    files: int = 0
    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    tree_size: int = 0
    root_hash: str = ""
    key_ids: list[str] = field(default_factory=list)
    keys_from_bundle: bool = False
    previous_tree_size: int | None = None

    @property
    def failure(self) -> str:
        if self.ok:
            return ""
        where = self.file + (f": sequence {self.seq}" if self.seq is not None else "")
        return f"{where}: {self.message}" if where else self.message

    def summary(self) -> str:
        if not self.ok:
            return f"FAILED {self.failure}"
        parts = [f"OK {self.kind or 'bundle'}: {self.files} files match the signed manifest"]
        if self.events:
            parts.append(
                f"{self.events} events (sequence {self.first_seq}..{self.last_seq}) hash-chained"
                f" and included in the checkpoint of {self.tree_size} events"
            )
        else:
            parts.append(f"checkpoint of {self.tree_size} events")
        parts.append(f"signed by key {', '.join(self.key_ids)}")
        if self.previous_tree_size is not None:
            parts.append(f"extends the previous checkpoint of {self.previous_tree_size} events")
        if self.keys_from_bundle:
            parts.append("keys taken from the bundle itself (pin them with --public-key)")
        return "; ".join(parts)


def verify_bundle(
    path,
    public_key: bytes | Iterable[Ed25519PublicKey] | None = None,
    previous_checkpoint: str | None = None,
) -> Report:
    """Check a bundle: manifest signature and digests, checkpoint, events, proofs.

    ``public_key`` is the PEM text of one or more public keys (or key objects)
    to trust; without it the bundle's own ``public-keys.pem`` is used, which
    shows integrity but not who signed. ``previous_checkpoint`` is a signed
    note kept from earlier: the bundle's log must extend it.
    """
    report = Report()
    try:
        with zipfile.ZipFile(path) as archive:
            _verify(archive, report, public_key, previous_checkpoint)
    except VerifyFailure as failure:
        report.ok = False
        report.file, report.seq, report.message = failure.file, failure.seq, failure.message
        return report
    except (zipfile.BadZipFile, OSError) as exc:
        report.ok, report.file, report.message = False, str(path), f"not a readable zip: {exc}"
        return report
    report.ok = True
    return report


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        raise VerifyFailure(name, "missing from the bundle") from None


def _verify(archive, report: Report, public_key, previous_note) -> None:
    names = archive.namelist()
    if len(set(names)) != len(names):
        raise VerifyFailure("", "the zip holds two files of the same name")
    trusted = _trusted_keys(archive, report, public_key)
    statement = _open_manifest(archive, trusted, report)
    listed = {}
    for subject in statement.get("subject") or []:
        name, digest = subject.get("name"), (subject.get("digest") or {}).get("sha256")
        if not isinstance(name, str) or not isinstance(digest, str) or name in listed:
            raise VerifyFailure(MANIFEST, f"malformed or repeated subject {subject!r}")
        listed[name] = digest
    for name in names:
        if name != MANIFEST and name not in listed:
            raise VerifyFailure(name, "not listed in the signed manifest (file added)")
    for name, digest in listed.items():
        if name not in names:
            raise VerifyFailure(name, "listed in the signed manifest but missing (file removed)")
        actual = hashlib.sha256()
        with archive.open(name) as handle:
            while chunk := handle.read(CHUNK):
                actual.update(chunk)
        if actual.hexdigest() != digest:
            raise VerifyFailure(
                name, f"SHA-256 {actual.hexdigest()} differs from the signed manifest's {digest}"
            )
    report.files = len(listed)
    predicate = statement.get("predicate") or {}
    report.kind = str(predicate.get("kind", ""))
    checkpoint = _open_checkpoint(_read(archive, CHECKPOINT).decode(), trusted, CHECKPOINT)
    report.tree_size, report.root_hash = checkpoint.tree_size, b64(checkpoint.root_hash)
    proofs = json.loads(_read(archive, PROOFS)) if PROOFS in listed else {}
    if proofs and proofs.get("tree_size") != checkpoint.tree_size:
        raise VerifyFailure(
            PROOFS,
            f"proofs are for a tree of {proofs.get('tree_size')} events, the checkpoint"
            f" covers {checkpoint.tree_size}",
        )
    if EVENTS in listed:
        _verify_events(archive, report, checkpoint, proofs, predicate.get("events") or {})
    if previous_note is not None:
        _verify_previous(previous_note, trusted, checkpoint, proofs)
        report.previous_tree_size = Checkpoint.parse(split_note(previous_note)[0]).tree_size


def _trusted_keys(archive, report: Report, public_key) -> list[Ed25519PublicKey]:
    if public_key is None:
        report.keys_from_bundle = True
        data = _read(archive, PUBLIC_KEYS)
        where = PUBLIC_KEYS
    elif isinstance(public_key, bytes | str):
        data = public_key.encode() if isinstance(public_key, str) else public_key
        where = "public key"
    else:
        return list(public_key)
    try:
        keys = load_public_keys(data)
    except CheckpointError as exc:
        raise VerifyFailure(where, str(exc)) from None
    if not keys:
        raise VerifyFailure(where, "holds no public key")
    return keys


def _open_manifest(archive, trusted, report: Report) -> dict:
    try:
        envelope = json.loads(_read(archive, MANIFEST))
        payload_type = envelope["payloadType"]
        payload = unb64(envelope["payload"], MANIFEST)
        signatures = envelope["signatures"]
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, VerifyFailure):
            raise
        raise VerifyFailure(MANIFEST, f"not a DSSE envelope: {exc}") from None
    if payload_type != PAYLOAD_TYPE:
        raise VerifyFailure(MANIFEST, f"payload type {payload_type!r}, not {PAYLOAD_TYPE!r}")
    message = pae(payload_type, payload)
    for entry in signatures if isinstance(signatures, list) else []:
        signature = unb64(entry.get("sig", ""), MANIFEST)
        for key in trusted:
            try:
                key.verify(signature, message)
            except InvalidSignature:
                continue
            report.key_ids = [str(entry.get("keyid", ""))]
            break
        else:
            continue
        break
    else:
        held = ", ".join(str(entry.get("keyid")) for entry in signatures or [])
        raise VerifyFailure(
            MANIFEST,
            f"the signature (key {held or 'none'}) does not verify with the"
            f" {'bundled' if report.keys_from_bundle else 'given'} public key(s):"
            " signed by another key, or the manifest or its signature was changed",
        )
    try:
        statement = json.loads(payload)
    except ValueError as exc:
        raise VerifyFailure(MANIFEST, f"the signed payload is not JSON: {exc}") from None
    if statement.get("_type") != STATEMENT_TYPE or statement.get("predicateType") != (
        PREDICATE_TYPE
    ):
        raise VerifyFailure(MANIFEST, "the signed payload is not a govreg in-toto Statement v1")
    return statement


def _open_checkpoint(note: str, trusted, where: str) -> Checkpoint:
    problems = []
    for key in trusted:
        try:
            return open_note(note, key)
        except CheckpointError as exc:
            problems.append(str(exc))
    raise VerifyFailure(where, problems[0] if len(problems) == 1 else "; ".join(problems))


def _verify_events(archive, report: Report, checkpoint: Checkpoint, proofs: dict, stated: dict):
    contiguous = bool(stated.get("contiguous"))
    gaps = [unb64(item, PROOFS) for item in (proofs.get("events") or {}).get("gaps", [])]
    state = {"count": 0, "first": None, "last": None, "last_hash": None}

    def leaves() -> Iterator[tuple[int, bytes]]:
        with archive.open(EVENTS) as handle:
            for number, line in enumerate(io.BufferedReader(handle, CHUNK), start=1):
                yield _check_line(number, line, state, contiguous, checkpoint.tree_size)

    try:
        root = root_from_leaves_and_gaps(checkpoint.tree_size, leaves(), gaps)
    except ProofExhausted:
        raise VerifyFailure(
            EVENTS,
            "the events and the proof's hashes do not make up the checkpoint's tree"
            " (events removed or inserted)",
        ) from None
    except ValueError as exc:
        raise VerifyFailure(EVENTS, f"{exc} (events or proof hashes added)") from None
    if root != checkpoint.root_hash:
        raise VerifyFailure(
            EVENTS,
            f"the events with {PROOFS} hash to the Merkle root {b64(root)}, not the"
            f" checkpoint's {b64(checkpoint.root_hash)} (an event altered, removed, inserted or"
            " re-hashed)",
        )
    count = stated.get("count")
    if count is not None and count != state["count"]:
        raise VerifyFailure(
            EVENTS, f"holds {state['count']} events, the signed manifest says {count}"
        )
    report.events, report.first_seq, report.last_seq = state["count"], state["first"], state["last"]


def _check_line(number: int, line: bytes, state: dict, contiguous: bool, size: int):
    if not line.endswith(b"\n"):
        raise VerifyFailure(EVENTS, f"line {number} does not end with a newline")
    body = line[:-1]
    try:
        record = json.loads(body)
    except ValueError as exc:
        raise VerifyFailure(EVENTS, f"line {number} is not JSON: {exc}") from None
    seq = record.get("seq") if isinstance(record, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise VerifyFailure(EVENTS, f"line {number} has no integer sequence number")
    if set(record) != set(HASHED_FIELDS) or canonical(record) != body:
        raise VerifyFailure(
            EVENTS, "not in the canonical serialization (fields or their form changed)", seq
        )
    last = state["last"]
    if last is not None:
        if contiguous and seq != last + 1:
            raise VerifyFailure(
                EVENTS,
                f"expected sequence {last + 1} after {last}, found {seq} (an event removed,"
                " inserted or moved)",
                seq,
            )
        if seq <= last:
            raise VerifyFailure(
                EVENTS, f"comes after sequence {last} (events reordered or repeated)", seq
            )
    if seq < 1 or seq > size:
        raise VerifyFailure(
            EVENTS, f"lies outside the checkpoint's {size} events (event inserted)", seq
        )
    digest = hashlib.sha256(body).digest()
    if seq == 1 and record["prev_hash"] != GENESIS_HASH:
        raise VerifyFailure(EVENTS, "the first event does not link to the genesis hash", seq)
    if last is not None and seq == last + 1 and record["prev_hash"] != state["last_hash"]:
        raise VerifyFailure(
            EVENTS,
            f"its hash is not the previous hash sequence {seq} links to (event {last} altered,"
            f" or {seq}'s link)",
            last,
        )
    state["count"] += 1
    state["first"] = seq if state["first"] is None else state["first"]
    state["last"], state["last_hash"] = seq, digest.hex()
    return seq - 1, digest


def _verify_previous(note: str, trusted, checkpoint: Checkpoint, proofs: dict) -> None:
    where = "previous checkpoint"
    previous = _open_checkpoint(note, trusted, where)
    old, new = previous.tree_size, checkpoint.tree_size
    if previous.origin != checkpoint.origin:
        raise VerifyFailure(
            where, f"is of the log {previous.origin!r}, the bundle's of {checkpoint.origin!r}"
        )
    if old > new:
        raise VerifyFailure(
            where,
            f"covers {old} events but the bundle's checkpoint only {new} (events removed from"
            " the end, or the log rewritten)",
        )
    if old == new:
        if previous.root_hash != checkpoint.root_hash:
            raise VerifyFailure(
                where, f"has another root for the same {old} events (the log was rewritten)"
            )
        return
    if old == 0:
        return
    encoded = (proofs.get("consistency") or {}).get(str(old))
    if encoded is None:
        raise VerifyFailure(
            where,
            f"{PROOFS} carries no consistency proof from {old} events: the log does not show"
            " that it extends the previous checkpoint (history rewritten?)",
        )
    proof = [unb64(item, PROOFS) for item in encoded]
    if not verify_consistency(old, previous.root_hash, new, checkpoint.root_hash, proof):
        raise VerifyFailure(
            where,
            f"the log of {new} events does not extend the previous checkpoint of {old} events:"
            " the consistency proof fails (history rewritten)",
        )


def checkpoint_key_ids(note: str, keys: Iterable[Ed25519PublicKey]) -> list[str]:
    origin = Checkpoint.parse(split_note(note)[0]).origin
    return [key_id(origin, key).hex() for key in keys]


def read_bundle_file(path, name: str) -> bytes:
    with zipfile.ZipFile(Path(path)) as archive:
        return archive.read(name)
