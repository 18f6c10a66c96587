"""govreg_verify on its own: RFC 6962 hashing, checkpoint notes, keys (no database)."""

import base64
import hashlib
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govreg_verify.checkpoint import (
    Checkpoint,
    CheckpointError,
    key_id,
    load_private_key,
    load_public_key,
    open_note,
    private_key_pem,
    public_key_pem,
    sign_note,
)
from govreg_verify.merkle import EMPTY_ROOT, TreeBuilder, leaf_hash, merkle_root, node_hash

# The reference tree of RFC 6962 implementations (Certificate Transparency's test data):
# eight leaves and the root after each one.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_leaf_and_node_hashes_are_domain_separated():
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()
    )
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_roots_match_the_rfc6962_reference_tree_at_every_size():
    builder = TreeBuilder()
    assert builder.root() == EMPTY_ROOT == merkle_root([])
    for size, leaf in enumerate(CT_LEAVES, start=1):
        builder.add(leaf)
        assert builder.root().hex() == CT_ROOTS[size - 1]
        assert merkle_root(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]


def test_incremental_root_equals_the_definition_for_odd_sizes():
    leaves = [hashlib.sha256(str(n).encode()).digest() for n in range(70)]
    builder = TreeBuilder()
    for size, leaf in enumerate(leaves, start=1):
        builder.add(leaf)
        assert builder.root() == merkle_root(leaves[:size]), size


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


def test_a_signed_note_opens_with_the_public_key(key):
    checkpoint = Checkpoint("govreg.example.com/audit", 1234, hashlib.sha256(b"x").digest())
    note, signature = sign_note(checkpoint, key)
    body, blank, line = note.partition("\n\n")
    assert body.split("\n") == [
        "govreg.example.com/audit",
        "1234",
        base64.b64encode(checkpoint.root_hash).decode(),
    ]
    assert line.startswith("\u2014 govreg.example.com/audit ")
    blob = base64.b64decode(line.split(" ")[2])
    assert blob == key_id("govreg.example.com/audit", key.public_key()) + signature
    assert open_note(note, key.public_key()) == checkpoint
    assert open_note(note + "\n\n", key.public_key()) == checkpoint  # a file's trailing lines


def test_an_altered_note_or_another_key_is_refused(key):
    checkpoint = Checkpoint("govreg/audit", 10, hashlib.sha256(b"x").digest())
    note, _ = sign_note(checkpoint, key)
    lowered = note.replace("\n10\n", "\n9\n", 1)
    with pytest.raises(CheckpointError, match="does not verify"):
        open_note(lowered, key.public_key())
    with pytest.raises(CheckpointError, match="not signed by the key"):
        open_note(note, Ed25519PrivateKey.generate().public_key())
    forged, _ = sign_note(checkpoint, Ed25519PrivateKey.generate())
    with pytest.raises(CheckpointError, match="not signed by the key"):
        open_note(forged, key.public_key())


@pytest.mark.parametrize(
    "text, message",
    [
        ("govreg/audit\n10\n", "no blank line"),
        ("govreg/audit\n10\n\n", "no blank line"),
        ("govreg/audit\n010\nAAAA\n\n\u2014 govreg/audit AAAAAAAA\n", "not a decimal"),
        ("govreg/audit\nten\nAAAA\n\n\u2014 govreg/audit AAAAAAAA\n", "not a decimal"),
        ("govreg/audit\n10\n!!\n\n\u2014 govreg/audit AAAAAAAA\n", "not base64"),
        ("govreg/audit\n10\nAAAA\n\n\u2014 govreg/audit AAAAAAAA\n", "32 bytes"),
        ("govreg/audit\n10\nAAAA\n\n- govreg/audit AAAAAAAA\n", "malformed signature"),
    ],
)
def test_malformed_notes_are_refused_with_a_reason(key, text, message):
    with pytest.raises(CheckpointError, match=message):
        open_note(text, key.public_key())


def test_keys_load_from_pem_or_raw_base64(key):
    raw = key.private_bytes_raw()
    for form in (private_key_pem(key), base64.b64encode(raw)):
        assert load_private_key(form).private_bytes_raw() == raw
    public = key.public_key()
    for form in (public_key_pem(public), base64.b64encode(public.public_bytes_raw())):
        assert load_public_key(form).public_bytes_raw() == public.public_bytes_raw()
    with pytest.raises(CheckpointError, match="32 bytes"):
        load_private_key(base64.b64encode(b"short"))
    with pytest.raises(CheckpointError, match="neither"):
        load_private_key(b"not a key")


def test_the_verifier_imports_without_django():
    code = (
        "import sys, govreg_verify.events, govreg_verify.merkle, govreg_verify.checkpoint, "
        "govreg_verify.log; assert 'django' not in sys.modules, sorted(sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
