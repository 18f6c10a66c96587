"""Signed bundles: written on the server, verified offline with govreg_verify alone."""

import base64
import io
import json
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.bundles import write_bundle
from audit.models import AuditEvent
from audit.services import record
from govreg_verify.bundle import BundleError, verify_bundle
from govreg_verify.checkpoint import public_key_pem

pytestmark = pytest.mark.django_db

KEY = Ed25519PrivateKey.generate()
KEY_B64 = base64.b64encode(KEY.private_bytes_raw()).decode()
PUBLIC_PEM = public_key_pem(KEY.public_key())


@pytest.fixture
def signing(settings):
    settings.GOVREG_AUDIT_SIGNING_KEY = KEY_B64
    settings.GOVREG_SIGNING_KEY_FILE = None
    settings.GOVREG_AUDIT_LOG_ORIGIN = "govreg.example.com/audit"
    return KEY


@pytest.fixture
def trail(db):
    for index in range(40):
        record(
            "test.event", object_type="tests.thing", object_id=str(index % 3), after={"n": index}
        )
    return AuditEvent.objects.count()


def bundle_of(**kwargs) -> bytes:
    out = io.BytesIO()
    write_bundle(out, kwargs.pop("files", []), kind=kwargs.pop("kind", "test"), **kwargs)
    return out.getvalue()


def test_a_bundle_of_files_verifies_with_the_published_key(signing, trail, tmp_path):
    path = tmp_path / "b.zip"
    chunks = (b"part %d\n" % n for n in range(1000))
    path.write_bytes(bundle_of(files=[("dossier.json", b'{"a": 1}'), ("big.txt", chunks)]))
    report = verify_bundle(path, public_key=PUBLIC_PEM)
    assert report.ok, report.failure
    assert report.files == 5  # two files, proofs, checkpoint, public keys
    assert report.tree_size == trail
    names = zipfile.ZipFile(path).namelist()
    assert names[-1] == "manifest.dsse.json"
    assert zipfile.ZipFile(path).read("big.txt").count(b"\n") == 1000


def test_events_of_the_whole_trail_and_of_one_object_verify(signing, trail, tmp_path):
    path = tmp_path / "all.zip"
    path.write_bytes(bundle_of(events=AuditEvent.objects.all()))
    report = verify_bundle(path, public_key=PUBLIC_PEM)
    assert report.ok, report.failure
    assert (report.events, report.first_seq, report.last_seq) == (trail, 1, trail)

    path = tmp_path / "one.zip"
    path.write_bytes(bundle_of(events=AuditEvent.objects.filter(object_id="1")))
    report = verify_bundle(path, public_key=PUBLIC_PEM)
    assert report.ok, report.failure
    assert report.events == AuditEvent.objects.filter(object_id="1").count()
    lines = zipfile.ZipFile(path).read("events.jsonl").splitlines()
    assert all(json.loads(line)["object_id"] == "1" for line in lines)


def test_reserved_names_are_refused(signing, trail):
    with pytest.raises(BundleError, match="checkpoint.txt"):
        bundle_of(files=[("checkpoint.txt", b"x")])
