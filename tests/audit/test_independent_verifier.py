"""An export checked by a verifier written from docs/audit-formats.md alone.

Nothing here imports govreg_verify: if the server's bundles and the document
ever disagree, this test fails where a regulator's own verifier would.
"""

import base64
import hashlib
import io
import json
import zipfile

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from audit.bundles import write_bundle
from audit.models import AuditEvent
from audit.services import sign_checkpoint
from tests.audit.conftest import PUBLIC_PEM, append_events

pytestmark = pytest.mark.django_db


def sha(data):
    return hashlib.sha256(data).digest()


def verify(zip_bytes, public_pem):  # sections 3 to 5 of docs/audit-formats.md
    key = load_pem_public_key(public_pem)
    z = zipfile.ZipFile(io.BytesIO(zip_bytes))
    env = json.loads(z.read("manifest.dsse.json"))
    payload, ptype = base64.b64decode(env["payload"]), env["payloadType"]
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(payload), payload)
    key.verify(base64.b64decode(env["signatures"][0]["sig"]), pae)  # raises if bad
    st = json.loads(payload)
    digests = {s["name"]: s["digest"]["sha256"] for s in st["subject"]}
    assert set(digests) == set(z.namelist()) - {"manifest.dsse.json"}
    assert all(hashlib.sha256(z.read(n)).hexdigest() == d for n, d in digests.items())
    body, sig_line = z.read("checkpoint.txt").decode().split("\n\n")
    origin, size, root = body.split("\n")[:3]
    kid = sha(origin.encode() + b"\n\x01" + key.public_bytes_raw())[:4]
    blob = base64.b64decode(sig_line.strip().rsplit(" ", 1)[1])
    assert sig_line.startswith("\u2014 " + origin + " ") and blob[:4] == kid
    key.verify(blob[4:], (body + "\n").encode())
    proofs = json.loads(z.read("proofs.json"))
    n, gaps = int(size), iter(base64.b64decode(g) for g in proofs["events"]["gaps"])
    lines = z.read("events.jsonl").split(b"\n")[:-1]
    events, prev = {}, None
    for line in lines:
        e = json.loads(line)
        canon = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert canon.encode() == line
        assert e["seq"] != 1 or e["prev_hash"] == "0" * 64
        if prev is not None and e["seq"] == prev[0] + 1:
            assert e["prev_hash"] == prev[1]
        assert prev is None or e["seq"] > prev[0]
        events[e["seq"] - 1] = sha(line)
        prev = (e["seq"], sha(line).hex())

    def R(a, b):
        if not any(a <= i < b for i in events):
            return next(gaps)
        if b - a == 1:
            return sha(b"\x00" + events[a])
        k = 1 << ((b - a - 1).bit_length() - 1)
        return sha(b"\x01" + R(a, a + k) + R(a + k, b))

    assert R(0, n) == base64.b64decode(root) and next(gaps, None) is None
    return st["predicate"], len(lines)


@pytest.mark.parametrize("only_object", [None, "1"])
def test_an_export_verifies_with_a_verifier_written_from_the_spec(signing_key, only_object):
    append_events(25)
    sign_checkpoint()
    append_events(5)
    events = AuditEvent.objects.all()
    if only_object:
        events = events.filter(object_type="tests.thing", object_id=only_object)
    out = io.BytesIO()
    write_bundle(out, [("readme.txt", b"hello")], kind="audit-export", events=events)
    predicate, count = verify(out.getvalue(), PUBLIC_PEM)
    assert count == predicate["events"]["count"] == events.count()
    assert predicate["kind"] == "audit-export"
