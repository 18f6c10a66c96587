"""Tampering with an exported bundle in every way: each is caught, with the right message.

Most cases re-sign the manifest after the change, as someone holding the signing
key could: so the checks under the manifest (chain, Merkle proof, checkpoint,
consistency) are each shown to catch the change on their own.
"""

import base64
import hashlib
import io
import json
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.bundles import write_bundle
from audit.models import AuditCheckpoint, AuditEvent
from audit.services import sign_checkpoint
from govreg_verify.bundle import pae, verify_bundle
from govreg_verify.checkpoint import Checkpoint, key_id, public_key_pem, sign_note
from govreg_verify.merkle import merkle_root
from tests.audit.conftest import PUBLIC_PEM, SIGNING_KEY, append_events

pytestmark = pytest.mark.django_db
ORIGIN = "govreg.example.com/audit"


class Bundle:
    """An exported bundle opened up, to change and zip again."""

    def __init__(self, data: bytes):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            self.files = {name: archive.read(name) for name in archive.namelist()}

    @property
    def lines(self) -> list[bytes]:
        return self.files["events.jsonl"].splitlines()

    @lines.setter
    def lines(self, lines: list[bytes]) -> None:
        self.files["events.jsonl"] = b"".join(line + b"\n" for line in lines)

    def statement(self) -> dict:
        envelope = json.loads(self.files["manifest.dsse.json"])
        return json.loads(base64.b64decode(envelope["payload"]))

    def resign(self, key=SIGNING_KEY, **predicate) -> "Bundle":
        """Re-make the manifest over the files as they are now, signed with ``key``."""
        statement = self.statement()
        statement["subject"] = [
            {"name": name, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}
            for name, data in self.files.items()
            if name != "manifest.dsse.json"
        ]
        statement["predicate"].update(predicate)
        payload = json.dumps(statement).encode()
        kind = "application/vnd.in-toto+json"
        envelope = {
            "payloadType": kind,
            "payload": base64.b64encode(payload).decode(),
            "signatures": [
                {
                    "keyid": key_id(ORIGIN, key.public_key()).hex(),
                    "sig": base64.b64encode(key.sign(pae(kind, payload))).decode(),
                }
            ],
        }
        self.files["manifest.dsse.json"] = json.dumps(envelope).encode()
        return self

    def resign_checkpoint(self, size: int, root: bytes, key=SIGNING_KEY) -> "Bundle":
        note, _ = sign_note(Checkpoint(origin=ORIGIN, tree_size=size, root_hash=root), key)
        self.files["checkpoint.txt"] = note.encode()
        proofs = json.loads(self.files["proofs.json"])
        proofs["tree_size"] = size
        self.files["proofs.json"] = json.dumps(proofs).encode()
        return self

    def verify(self, tmp_path, **options):
        path = tmp_path / "tampered.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in self.files.items():
                archive.writestr(name, data)
        options.setdefault("public_key", PUBLIC_PEM)
        return verify_bundle(path, **options)


def event(line: bytes) -> dict:
    return json.loads(line)


def canonical(record: dict) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.fixture
def exported(signing_key):
    """The whole trail exported, with an earlier checkpoint signed half-way through."""
    append_events(10)
    earlier = sign_checkpoint()
    append_events(10)
    out = io.BytesIO()
    write_bundle(
        out,
        [("notes.txt", b"for the regulator")],
        kind="audit-export",
        events=AuditEvent.objects.all(),
    )
    return {"data": out.getvalue(), "earlier": earlier.note(), "size": AuditEvent.objects.count()}


def test_the_untouched_bundle_verifies_and_extends_the_earlier_checkpoint(exported, tmp_path):
    report = Bundle(exported["data"]).verify(tmp_path, previous_checkpoint=exported["earlier"])
    assert report.ok, report.failure
    assert report.events == exported["size"]
    assert report.previous_tree_size < report.tree_size


def test_an_altered_event_fails_its_digest_and_then_its_chain(exported, tmp_path):
    bundle = Bundle(exported["data"])
    lines = bundle.lines
    altered = event(lines[4])
    altered["actor_username"] = "someone-else"
    lines[4] = canonical(altered)
    bundle.lines = lines
    report = bundle.verify(tmp_path)
    assert report.file == "events.jsonl"
    assert "differs from the signed manifest" in report.message

    report = bundle.resign().verify(tmp_path)
    assert (report.file, report.seq) == ("events.jsonl", 5)
    assert "event 5 altered" in report.message


def test_an_altered_last_event_fails_the_merkle_root(exported, tmp_path):
    bundle = Bundle(exported["data"])
    lines = bundle.lines
    last = event(lines[-1])
    last["after"] = {"n": "changed"}
    lines[-1] = canonical(last)
    bundle.lines = lines
    report = bundle.resign().verify(tmp_path)
    assert report.file == "events.jsonl"
    assert "not the checkpoint's" in report.message


def test_a_deleted_event_is_a_gap_in_the_sequence(exported, tmp_path):
    bundle = Bundle(exported["data"])
    lines = bundle.lines
    del lines[6]
    bundle.lines = lines
    report = bundle.resign().verify(tmp_path)
    assert (report.file, report.seq) == ("events.jsonl", 8)
    assert "expected sequence 7 after 6, found 8" in report.message


def test_deleting_the_last_events_leaves_the_tree_incomplete(exported, tmp_path):
    bundle = Bundle(exported["data"])
    bundle.lines = bundle.lines[:-3]
    report = bundle.resign().verify(tmp_path)
    assert report.file == "events.jsonl"
    assert "do not make up the checkpoint's tree" in report.message


def test_deleting_the_last_events_and_signing_a_smaller_checkpoint_fails_the_older_one(
    exported, tmp_path
):
    """With the key, one can cut the tail and sign anew; a checkpoint kept from before still
    covers the cut events."""
    kept = AuditCheckpoint.objects.order_by("-tree_size").first().note()
    bundle = Bundle(exported["data"])
    lines = bundle.lines[:-3]
    bundle.lines = lines
    size = len(lines)
    root = merkle_root([hashlib.sha256(line).digest() for line in lines])
    stated = {**bundle.statement()["predicate"]["events"], "count": size, "last_seq": size}
    bundle.resign_checkpoint(size, root).resign(events=stated)
    assert bundle.verify(tmp_path).ok  # on its own it looks whole
    report = bundle.verify(tmp_path, previous_checkpoint=kept)
    assert report.file == "previous checkpoint"
    assert "events removed from the end" in report.message


def test_reordered_events_are_caught(exported, tmp_path):
    bundle = Bundle(exported["data"])
    lines = bundle.lines
    lines[2], lines[3] = lines[3], lines[2]
    bundle.lines = lines
    report = bundle.resign().verify(tmp_path)
    assert (report.file, report.seq) == ("events.jsonl", 4)
    assert "expected sequence 3 after 2, found 4" in report.message


def test_an_inserted_event_is_caught(exported, tmp_path):
    bundle = Bundle(exported["data"])
    lines = bundle.lines
    forged = event(lines[-1])
    forged.update(seq=forged["seq"] + 1, prev_hash=hashlib.sha256(lines[-1]).hexdigest())
    forged["action"] = "registry.mlmodel.delete"
    bundle.lines = [*lines, canonical(forged)]
    report = bundle.resign().verify(tmp_path)
    assert (report.file, report.seq) == ("events.jsonl", forged["seq"])
    assert "outside the checkpoint's" in report.message

    inside = event(lines[3])
    inside["action"] = "forged"
    bundle.lines = [*lines[:4], canonical(inside), *lines[4:]]
    report = bundle.resign().verify(tmp_path)
    assert (report.file, report.seq) == ("events.jsonl", 4)
    assert "expected sequence 5 after 4, found 4 (an event removed, inserted or moved)" in (
        report.message
    )


def test_a_line_re_serialized_differently_is_not_canonical(exported, tmp_path):
    bundle = Bundle(exported["data"])
    lines = bundle.lines
    lines[1] = json.dumps(event(lines[1])).encode()  # same content, with spaces
    bundle.lines = lines
    report = bundle.resign().verify(tmp_path)
    assert (report.file, report.seq) == ("events.jsonl", 2)
    assert "canonical" in report.message


def test_a_changed_checkpoint_fails_its_signature(exported, tmp_path):
    bundle = Bundle(exported["data"])
    text = bundle.files["checkpoint.txt"].decode().split("\n")
    text[1] = str(int(text[1]) - 1)
    bundle.files["checkpoint.txt"] = "\n".join(text).encode()
    report = bundle.resign().verify(tmp_path)
    assert report.file == "checkpoint.txt"
    assert "signature does not verify" in report.message


def test_a_swapped_signature_fails_the_manifest(exported, tmp_path, signing_key):
    other = io.BytesIO()
    write_bundle(other, [("other.txt", b"another export")], kind="audit-export")
    other_sig = json.loads(Bundle(other.getvalue()).files["manifest.dsse.json"])["signatures"]
    bundle = Bundle(exported["data"])
    envelope = json.loads(bundle.files["manifest.dsse.json"])
    envelope["signatures"] = other_sig
    bundle.files["manifest.dsse.json"] = json.dumps(envelope).encode()
    report = bundle.verify(tmp_path)
    assert report.file == "manifest.dsse.json"
    assert "does not verify" in report.message


def test_another_key_passes_only_on_its_own_keys(exported, tmp_path):
    intruder = Ed25519PrivateKey.generate()
    bundle = Bundle(exported["data"])
    lines = bundle.lines
    size = len(lines)
    root = merkle_root([hashlib.sha256(line).digest() for line in lines])
    bundle.files["public-keys.pem"] = public_key_pem(intruder.public_key())
    bundle.resign_checkpoint(size, root, key=intruder).resign(key=intruder)
    alone = bundle.verify(tmp_path, public_key=None)
    assert alone.ok and alone.keys_from_bundle
    assert "pin them with --public-key" in alone.summary()
    report = bundle.verify(tmp_path)
    assert report.file == "manifest.dsse.json"
    assert "does not verify with the given public key" in report.message


def test_rewritten_history_is_caught_against_an_older_checkpoint(exported, tmp_path):
    """Someone with the key alters event 3, re-hashes the chain after it, and signs a new
    checkpoint and manifest: the bundle holds together on its own, but not as an
    extension of the checkpoint a regulator kept."""
    bundle = Bundle(exported["data"])
    lines = bundle.lines
    records = [event(line) for line in lines]
    records[2]["after"] = {"n": "rewritten"}
    previous = records[1]
    rewritten = []
    for record in records:
        if record["seq"] > 1:
            record["prev_hash"] = hashlib.sha256(canonical(previous)).hexdigest()
        rewritten.append(canonical(record))
        previous = record
    bundle.lines = rewritten
    root = merkle_root([hashlib.sha256(line).digest() for line in rewritten])
    bundle.resign_checkpoint(len(rewritten), root).resign()
    assert bundle.verify(tmp_path).ok
    report = bundle.verify(tmp_path, previous_checkpoint=exported["earlier"])
    assert report.file == "previous checkpoint"
    assert "consistency proof fails (history rewritten)" in report.message

    proofs = json.loads(bundle.files["proofs.json"])
    proofs["consistency"] = {}
    bundle.files["proofs.json"] = json.dumps(proofs).encode()
    report = bundle.resign().verify(tmp_path, previous_checkpoint=exported["earlier"])
    assert "carries no consistency proof" in report.message


def test_files_added_or_removed_are_caught(exported, tmp_path):
    bundle = Bundle(exported["data"])
    bundle.files["extra.txt"] = b"slipped in"
    report = bundle.verify(tmp_path)
    assert (report.file, report.message) == (
        "extra.txt",
        "not listed in the signed manifest (file added)",
    )
    del bundle.files["extra.txt"]
    del bundle.files["notes.txt"]
    report = bundle.verify(tmp_path)
    assert report.file == "notes.txt"
    assert "missing (file removed)" in report.message
