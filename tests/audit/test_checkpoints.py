"""Signed Merkle checkpoints: what the hash chain alone could not catch, they do."""

import base64
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.chain import event_hash
from audit.exceptions import TrailTampered
from audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from audit.services import record, sign_checkpoint
from audit.signing import development_key_path
from audit.tasks import sign_audit_checkpoint, verify_chain
from govreg_verify.checkpoint import Checkpoint, load_public_key, open_note, sign_note
from govreg_verify.merkle import root_of_events
from tests.utils import manage_env

pytestmark = pytest.mark.django_db

KEY = Ed25519PrivateKey.generate()
KEY_B64 = base64.b64encode(KEY.private_bytes_raw()).decode()


@pytest.fixture
def signing(settings):
    settings.GOVREG_AUDIT_SIGNING_KEY = KEY_B64
    settings.GOVREG_AUDIT_LOG_ORIGIN = "govreg.example.com/audit"
    return KEY


@pytest.fixture
def chain(db):
    for index in range(6):
        record("test.event", object_type="tests.thing", object_id=str(index), after={"n": index})
    return list(AuditEvent.objects.order_by("seq"))


def verify(*args) -> str:
    out = StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


class unguarded:
    """Lift the append-only triggers for the block, as an attacker owning the tables could."""

    TRIGGERS = (
        ("audit_auditevent", "audit_event_append_only"),
        ("audit_auditcheckpoint", "audit_checkpoint_append_only"),
    )

    def _set(self, state):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for table, trigger in self.TRIGGERS:
                    cursor.execute(f"ALTER TABLE {table} {state} TRIGGER {trigger}")

    def __enter__(self):
        self._set("DISABLE")

    def __exit__(self, *exc):
        self._set("ENABLE")


def cut_tail(keep: int) -> None:
    """Remove every event after ``keep`` and lower the chain head to match."""
    with unguarded():
        AuditEvent.objects.filter(seq__gt=keep).delete()
    last = AuditEvent.objects.get(seq=keep)
    AuditChainHead.objects.filter(pk=1).update(last_seq=keep, last_hash=last.hash)


def rehash_from(seq: int, **change) -> None:
    """Alter event ``seq`` and recompute every hash from it onward, head included."""
    prev = AuditEvent.objects.get(seq=seq - 1).hash if seq > 1 else "0" * 64
    with unguarded():
        for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
            if event.seq == seq:
                for name, value in change.items():
                    setattr(event, name, value)
            event.prev_hash = prev
            event.hash = event_hash(event.as_record())
            AuditEvent.objects.filter(pk=event.pk).update(
                prev_hash=event.prev_hash, hash=event.hash, **(change if event.seq == seq else {})
            )
            prev = event.hash
    AuditChainHead.objects.filter(pk=1).update(last_hash=prev)


def test_a_checkpoint_signs_the_merkle_root_of_the_whole_trail(signing, chain):
    checkpoint = sign_checkpoint()
    total = AuditEvent.objects.count()
    hashes = AuditEvent.objects.order_by("seq").values_list("hash", flat=True)
    assert checkpoint.tree_size == total
    assert checkpoint.root_hash == root_of_events(hashes).hex()
    opened = open_note(checkpoint.note(), signing.public_key())
    assert opened == Checkpoint(
        "govreg.example.com/audit", total, bytes.fromhex(checkpoint.root_hash)
    )
    assert f"extends the signed checkpoint of {total} events (key {checkpoint.key_id})" in verify()


def test_signing_again_without_new_events_changes_nothing(signing, chain):
    first = sign_checkpoint()
    assert sign_checkpoint() == first
    assert AuditCheckpoint.objects.count() == 1
    record("test.event", object_type="tests.thing", object_id="later")
    second = sign_checkpoint()
    assert second.tree_size == first.tree_size + 1
    assert "chain intact" in verify()


def test_removing_the_last_events_while_lowering_the_head_is_detected(signing, chain):
    total = sign_checkpoint().tree_size
    cut_tail(total - 2)
    # The chain and its head agree again: without a checkpoint this went unnoticed.
    with pytest.raises(
        CommandError,
        match=f"does not extend its signed checkpoint of {total} events .*"
        f"holds {total - 2} intact events .*removed from the end",
    ):
        verify()


def test_rehashing_the_chain_from_an_altered_event_is_detected(signing, chain):
    total = sign_checkpoint().tree_size
    rehash_from(chain[2].seq, action="test.rewritten")
    assert AuditEvent.objects.get(seq=chain[2].seq).action == "test.rewritten"
    with pytest.raises(
        CommandError,
        match=f"signed checkpoint of {total} events .* do not hash to the signed checkpoint's root",
    ):
        verify()
    with pytest.raises(TrailTampered, match="do not hash to the signed checkpoint's root"):
        record("test.event", object_type="tests.thing", object_id="after")
        sign_checkpoint()


def test_events_after_the_last_checkpoint_may_still_be_rehashed_until_the_next(signing, chain):
    """The limit, stated: a checkpoint covers what existed when it was signed."""
    total = sign_checkpoint().tree_size
    record("test.event", object_type="tests.thing", object_id="late")
    rehash_from(total + 1, action="test.rewritten")
    assert "chain intact" in verify()


def test_a_bad_signature_is_detected(signing, chain):
    checkpoint = sign_checkpoint()
    bogus = base64.b64encode(KEY.sign(b"something else")).decode()
    with unguarded():
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(signature=bogus)
    with pytest.raises(CommandError, match="checkpoint signature does not verify"):
        verify()


def test_a_checkpoint_lowered_to_match_a_cut_trail_is_detected(signing, chain):
    """The attacker rewrites the checkpoint too, but cannot sign with our key."""
    total = sign_checkpoint().tree_size
    cut_tail(total - 2)
    hashes = AuditEvent.objects.order_by("seq").values_list("hash", flat=True)
    lowered = Checkpoint("govreg.example.com/audit", total - 2, root_of_events(hashes))
    _, theirs = sign_note(lowered, Ed25519PrivateKey.generate())
    with unguarded():
        AuditCheckpoint.objects.update(
            tree_size=lowered.tree_size,
            root_hash=lowered.root_hash.hex(),
            signed_text=lowered.body(),
            signature=base64.b64encode(theirs).decode(),
        )
    with pytest.raises(CommandError, match="signature does not verify"):
        verify()
    with unguarded():
        AuditCheckpoint.objects.update(root_hash="0" * 64)
    with pytest.raises(CommandError, match="differs from the text that was signed"):
        verify()


def test_a_checkpoint_kept_outside_the_database_catches_a_wiped_trail(signing, chain, tmp_path):
    out = StringIO()
    call_command("audit_checkpoint", stdout=out)
    note = tmp_path / "checkpoint.txt"
    note.write_text(out.getvalue())
    public = tmp_path / "audit-key.pem"
    key_out = StringIO()
    call_command("audit_public_key", stdout=key_out)
    public.write_text(key_out.getvalue())
    assert load_public_key(public.read_bytes()).public_bytes_raw() == (
        KEY.public_key().public_bytes_raw()
    )
    assert "chain intact" in verify("--checkpoint", str(note), "--public-key", str(public))
    # An owner who empties both tables and the head leaves a trail that verifies as empty...
    with unguarded():
        AuditCheckpoint.objects.all().delete()
        AuditEvent.objects.all().delete()
    AuditChainHead.objects.all().delete()
    assert "verified 0 audit events; chain intact" in verify()
    # ...but not against the copy kept elsewhere.
    with pytest.raises(CommandError, match="does not extend the given checkpoint"):
        verify("--checkpoint", str(note), "--public-key", str(public))


def test_the_trail_is_checked_against_the_exported_key_not_another(signing, chain, tmp_path):
    sign_checkpoint()
    other = tmp_path / "other.pem"
    from govreg_verify.checkpoint import public_key_pem

    other.write_bytes(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    with pytest.raises(CommandError, match="not signed by the key"):
        verify("--public-key", str(other))


def test_checkpoints_without_a_key_to_check_them_fail_verification(signing, chain, settings):
    sign_checkpoint()
    settings.GOVREG_AUDIT_SIGNING_KEY = None
    with pytest.raises(CommandError, match="no key to check them with"):
        verify()


def test_signing_refuses_a_trail_whose_head_fell_below_the_last_checkpoint(signing, chain):
    total = sign_checkpoint().tree_size
    AuditChainHead.objects.filter(pk=1).update(last_seq=total - 1)
    with pytest.raises(TrailTampered, match="fewer than the"):
        sign_checkpoint()


def test_signing_refuses_new_events_that_do_not_verify(signing, chain):
    sign_checkpoint()
    late = record("test.event", object_type="tests.thing", object_id="late")
    with unguarded():
        AuditEvent.objects.filter(pk=late.pk).update(action="tampered")
    with pytest.raises(TrailTampered, match=f"sequence {late.seq}: content does not match"):
        sign_checkpoint()
    with pytest.raises(CommandError, match="content does not match"):
        call_command("audit_checkpoint", stdout=StringIO())


def test_the_beat_tasks_sign_and_verify(signing, chain):
    signed = sign_audit_checkpoint.delay().get()
    assert signed["tree_size"] == AuditEvent.objects.count()
    answer = verify_chain.delay().get()
    assert answer["intact"] is True
    assert answer["checkpoint"] == signed["tree_size"]
    cut_tail(signed["tree_size"] - 1)
    answer = verify_chain.delay().get()
    assert answer["intact"] is False
    assert "removed from the end" in answer["reason"]


def test_the_tasks_are_scheduled(settings):
    tasks = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks["audit.sign_checkpoint"] == 3600
    assert tasks["audit.verify_chain"] == 24 * 3600


def test_verify_from_the_shell_fails_on_a_cut_trail(signing, transactional_db):
    for index in range(4):
        record("test.event", object_type="tests.thing", object_id=str(index))
    total = sign_checkpoint().tree_size
    env = manage_env(
        GOVREG_AUDIT_SIGNING_KEY=KEY_B64, GOVREG_AUDIT_LOG_ORIGIN="govreg.example.com/audit"
    )
    command = [sys.executable, "manage.py", "verify_audit"]
    ok = subprocess.run(command, capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert f"extends the signed checkpoint of {total} events" in ok.stdout
    cut_tail(total - 1)
    bad = subprocess.run(command, capture_output=True, text=True, env=env)
    assert bad.returncode != 0
    assert f"does not extend its signed checkpoint of {total} events" in bad.stderr


def deploy_issues(**kwargs) -> set[str]:
    return {
        issue.id
        for issue in run_checks(include_deployment_checks=True, **kwargs)
        if issue.id.startswith("audit.")
    }


def test_deploy_check_warns_without_a_signing_key_in_production(settings):
    settings.DEBUG = False
    settings.GOVREG_AUDIT_SIGNING_KEY = None
    assert "audit.W001" in deploy_issues()
    settings.GOVREG_AUDIT_SIGNING_KEY = KEY_B64
    assert "audit.W001" not in deploy_issues()
    settings.GOVREG_AUDIT_SIGNING_KEY = None
    settings.DEBUG = True
    assert "audit.W001" not in deploy_issues()  # the embedded mode makes its own


def test_an_unusable_key_or_origin_is_an_error_naming_the_setting(settings, tmp_path):
    settings.GOVREG_AUDIT_SIGNING_KEY = "not-a-key"
    issues = [i for i in run_checks() if i.id == "audit.E001"]
    assert issues and "GOVREG_AUDIT_SIGNING_KEY" in issues[0].msg
    garbage = tmp_path / "key.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    settings.GOVREG_AUDIT_SIGNING_KEY = str(garbage)
    issues = [i for i in run_checks() if i.id == "audit.E001"]
    assert issues and str(garbage) in issues[0].msg
    settings.GOVREG_AUDIT_SIGNING_KEY = None
    settings.GOVREG_AUDIT_LOG_ORIGIN = "has spaces"
    assert "audit.E002" in {i.id for i in run_checks()}


def test_production_without_a_key_cannot_sign(settings, chain):
    settings.DEBUG = False
    settings.GOVREG_AUDIT_SIGNING_KEY = None
    with pytest.raises(
        CommandError, match=r"GOVREG_SIGNING_KEY_FILE \(or GOVREG_AUDIT_SIGNING_KEY\) is not set"
    ):
        call_command("audit_checkpoint", stdout=StringIO())
    assert "no signed checkpoint yet" in verify()


def test_a_pem_key_file_signs(settings, chain, tmp_path):
    from govreg_verify.checkpoint import private_key_pem

    path = tmp_path / "audit-key.pem"
    path.write_bytes(private_key_pem(KEY))
    settings.GOVREG_AUDIT_SIGNING_KEY = str(path)
    checkpoint = sign_checkpoint()
    assert open_note(checkpoint.note(), KEY.public_key()).tree_size == checkpoint.tree_size


def test_embedded_mode_generates_its_key_once_beside_the_sqlite_database(settings, chain):
    if connection.vendor != "sqlite":
        pytest.skip("the embedded mode is the SQLite file")
    settings.DEBUG = True
    settings.GOVREG_AUDIT_SIGNING_KEY = None
    path = development_key_path()
    assert path.parent == Path(connection.settings_dict["NAME"]).parent
    assert path.name.endswith(".sqlite3-audit-signing-key.pem")
    assert not path.exists()
    try:
        first = sign_checkpoint()
        assert path.exists()
        assert path.stat().st_mode & 0o777 == 0o600
        record("test.event", object_type="tests.thing", object_id="later")
        second = sign_checkpoint()
        assert second.key_id == first.key_id  # the same key, read back from the file
        assert "chain intact" in verify()
    finally:
        path.unlink(missing_ok=True)
