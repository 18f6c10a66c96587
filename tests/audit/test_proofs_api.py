"""Checkpoint, inclusion and consistency proofs over HTTP, checked with govreg_verify."""

import base64

import pytest

from audit import proofs
from audit.models import AuditEvent, AuditTreeNode
from audit.services import sign_checkpoint
from govreg_verify.merkle import merkle_root, verify_consistency, verify_inclusion
from tests.audit.conftest import PUBLIC_PEM, append_events
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def unb64(text):
    return base64.b64decode(text)


def leaves(size):
    hashes = AuditEvent.objects.filter(seq__lte=size).order_by("seq").values_list("hash", flat=True)
    return [bytes.fromhex(value) for value in hashes]


@pytest.fixture
def small_stride(monkeypatch):
    """Store every second level, so a few hundred events exercise three stored levels."""
    monkeypatch.setattr(proofs, "STRIDE", 2)
    monkeypatch.setattr(proofs, "BLOCK", 4)


@pytest.mark.parametrize("stride", [8, 2])
def test_stored_nodes_give_every_root_and_proof_of_the_definition(
    signing_key, request, stride, monkeypatch
):
    if stride == 2:
        request.getfixturevalue("small_stride")
    append_events(300)
    checkpoint = sign_checkpoint()
    size = checkpoint.tree_size
    assert AuditTreeNode.objects.exists()
    data = leaves(size)
    assert proofs.root_at(size).hex() == checkpoint.root_hash
    for tree_size in (1, 2, 3, 5, 64, 255, 256, 257, size - 1, size):
        root = merkle_root(data[:tree_size])
        assert proofs.root_at(tree_size) == root
        for seq in {1, tree_size // 2 + 1, tree_size}:
            found = proofs.inclusion(seq, tree_size)
            assert verify_inclusion(data[seq - 1], seq - 1, tree_size, found["audit_path"], root)
        for old in {1, tree_size // 3 + 1, tree_size}:
            found = proofs.consistency(old, tree_size)
            assert verify_consistency(old, merkle_root(data[:old]), tree_size, root, found["proof"])


def test_nodes_not_stored_yet_are_computed_from_the_level_below(signing_key, small_stride):
    append_events(100)
    size = AuditEvent.objects.count()
    assert not AuditTreeNode.objects.exists()  # nothing signed yet: nothing stored
    assert proofs.root_at(size) == merkle_root(leaves(size))
    found = proofs.inclusion(7, size)
    assert verify_inclusion(leaves(size)[6], 6, size, found["audit_path"], found["root_hash"])


def test_an_auditor_fetches_the_checkpoint_and_checks_a_proof_against_it(signing_key, auditor):
    append_events(20)
    checkpoint = sign_checkpoint()
    client = token_client(auditor)
    answer = client.get("/api/audit/checkpoint").json()
    assert answer["tree_size"] == checkpoint.tree_size
    assert answer["note"] == checkpoint.note()
    assert answer["key_id"] == checkpoint.key_id
    root = unb64(answer["root_hash"])

    proof = client.get("/api/audit/proof", {"seq": 5}).json()
    assert proof["tree_size"] == checkpoint.tree_size
    assert proof["checkpoint"] == checkpoint.note()
    leaf = bytes.fromhex(proof["event_hash"])
    assert leaf.hex() == AuditEvent.objects.get(seq=5).hash
    path = [unb64(node) for node in proof["audit_path"]]
    assert verify_inclusion(leaf, 4, checkpoint.tree_size, path, root)

    old = checkpoint.tree_size
    append_events(5)
    newer = sign_checkpoint()
    answer = client.get("/api/audit/consistency", {"from": old, "to": newer.tree_size}).json()
    assert answer["from_checkpoint"] == checkpoint.note()
    assert unb64(answer["from_root"]) == root
    assert verify_consistency(
        old,
        root,
        newer.tree_size,
        bytes.fromhex(newer.root_hash),
        [unb64(node) for node in answer["proof"]],
    )


def test_proofs_at_sizes_no_checkpoint_was_signed_for(signing_key, auditor):
    append_events(10)
    sign_checkpoint()
    client = token_client(auditor)
    size = AuditEvent.objects.count()
    proof = client.get("/api/audit/proof", {"seq": 3, "tree_size": size - 2}).json()
    assert proof["checkpoint"] is None
    root = merkle_root(leaves(size - 2))
    assert unb64(proof["root_hash"]) == root


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/audit/proof", {}, "seq"),
        ("/api/audit/proof", {"seq": "x"}, "seq"),
        ("/api/audit/proof", {"seq": 0}, "seq"),
        ("/api/audit/proof", {"seq": 10**6}, "seq"),
        ("/api/audit/proof", {"seq": 1, "tree_size": 10**6}, "tree_size"),
        ("/api/audit/proof", {"seq": 1, "tree_size": "-3"}, "tree_size"),
        ("/api/audit/consistency", {}, "from"),
        ("/api/audit/consistency", {"from": 5, "to": 3}, "from"),
        ("/api/audit/consistency", {"from": 1, "to": "later"}, "to"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(signing_key, auditor, path, params, field):
    append_events(8)
    sign_checkpoint()
    response = token_client(auditor).get(path, params)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_proofs_are_for_trail_readers_and_keys_for_everyone(signing_key, auditor, owner, client):
    append_events(3)
    sign_checkpoint()
    paths = ("/api/audit/checkpoint", "/api/audit/proof?seq=1", "/api/audit/consistency?from=1")
    for path in paths:
        assert token_client(owner).get(path).status_code == 403
        assert client.get(path).status_code in (401, 403)
        assert token_client(auditor).get(path).status_code == 200
    keys = client.get("/api/audit/keys").json()
    assert [key["status"] for key in keys] == ["current"]
    assert keys[0]["public_key"].encode() == PUBLIC_PEM


def test_no_checkpoint_yet_is_404(signing_key, auditor):
    response = token_client(auditor).get("/api/audit/checkpoint")
    assert response.status_code == 404
    assert "no checkpoint" in response.json()["message"]
