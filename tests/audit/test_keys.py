"""Signing keys: a PEM key file, rotation that keeps old exports verifiable, retention."""

import io
import subprocess
import sys
from io import StringIO

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.bundles import write_bundle
from audit.models import AuditEvent, AuditSigningKey
from audit.services import sign_checkpoint
from govreg_verify.bundle import load_public_keys, verify_bundle
from govreg_verify.checkpoint import key_id, open_note, private_key_pem
from tests.audit.conftest import append_events
from tests.utils import manage_env

pytestmark = pytest.mark.django_db
ORIGIN = "govreg.example.com/audit"


@pytest.fixture
def key_file(settings, tmp_path):
    path = tmp_path / "signing-key.pem"
    path.write_bytes(private_key_pem(Ed25519PrivateKey.generate()))
    settings.GOVREG_SIGNING_KEY_FILE = str(path)
    settings.GOVREG_AUDIT_SIGNING_KEY = None
    settings.GOVREG_AUDIT_LOG_ORIGIN = ORIGIN
    settings.GOVREG_AUDIT_EXPORT_DIR = str(tmp_path / "exports")
    return path


def public_keys_printed(*args) -> bytes:
    out = StringIO()
    call_command("audit_public_key", *args, stdout=out)
    return out.getvalue().encode()


def test_the_pem_key_file_signs_and_its_public_key_is_served(key_file, client):
    append_events(3)
    checkpoint = sign_checkpoint()
    (public,) = load_public_keys(public_keys_printed())
    assert open_note(checkpoint.note(), public).tree_size == checkpoint.tree_size
    served = client.get("/api/audit/keys").json()
    assert [row["key_id"] for row in served] == [key_id(ORIGIN, public).hex()]


def test_setting_both_key_settings_is_an_error(key_file, settings):
    settings.GOVREG_AUDIT_SIGNING_KEY = "c29tZXRoaW5n"
    errors = [error for error in run_checks() if error.id == "audit.E001"]
    assert errors and "not both" in errors[0].msg


def test_a_key_file_that_is_not_pem_is_an_error_naming_the_setting(key_file):
    key_file.write_text("not a key\n")
    errors = [error for error in run_checks() if error.id == "audit.E001"]
    assert errors and "GOVREG_SIGNING_KEY_FILE" in errors[0].msg


def test_rotation_keeps_old_exports_verifiable(key_file, tmp_path):
    append_events(5)
    before = io.BytesIO()
    write_bundle(before, [("note.txt", b"before the rotation")], kind="test")
    old_key_id = sign_checkpoint().key_id

    out = StringIO()
    call_command("rotate_signing_key", stdout=out)
    assert f"retired key {old_key_id}" in out.getvalue()
    latest = sign_checkpoint()
    assert latest.key_id != old_key_id
    assert AuditEvent.objects.filter(action="audit.signing_key.rotate").count() == 1
    rows = {row.key_id: row for row in AuditSigningKey.objects.all()}
    assert rows[old_key_id].retired_at is not None
    assert rows[latest.key_id].retired_at is None

    keys_pem = public_keys_printed()
    assert len(load_public_keys(keys_pem)) == 2
    assert len(load_public_keys(public_keys_printed("--current"))) == 1
    old_bundle = tmp_path / "old.zip"
    old_bundle.write_bytes(before.getvalue())
    report = verify_bundle(old_bundle, public_key=keys_pem)
    assert report.ok, report.failure
    assert report.key_ids == [old_key_id]
    # an auditor who kept only the current key cannot vouch for the old export
    assert not verify_bundle(old_bundle, public_key=public_keys_printed("--current")).ok

    after = io.BytesIO()
    write_bundle(after, [], kind="test")
    new_bundle = tmp_path / "new.zip"
    new_bundle.write_bytes(after.getvalue())
    report = verify_bundle(new_bundle, public_key=keys_pem)
    assert report.ok, report.failure
    assert report.key_ids == [latest.key_id]
    assert "chain intact" in _verify_audit()


def _verify_audit() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def test_rotation_of_a_key_held_in_the_setting_needs_a_file(settings, tmp_path):
    settings.GOVREG_SIGNING_KEY_FILE = None
    settings.GOVREG_AUDIT_SIGNING_KEY = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    settings.GOVREG_AUDIT_LOG_ORIGIN = ORIGIN
    append_events(1)
    with pytest.raises(CommandError, match="give a path for the new key"):
        call_command("rotate_signing_key", stdout=StringIO())
    out = StringIO()
    call_command("rotate_signing_key", "--key-file", str(tmp_path / "new.pem"), stdout=out)
    assert "point GOVREG_SIGNING_KEY_FILE at" in out.getvalue()
    assert (tmp_path / "new.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize(("days", "starts"), [("100", False), ("182", False), ("183", True)])
def test_a_retention_under_six_months_stops_start_up(days, starts):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=manage_env(GOVREG_AUDIT_RETENTION_DAYS=days, DEBUG="true"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode == 0) is starts, result.stderr[-2000:]
    if not starts:
        assert "GOVREG_AUDIT_RETENTION_DAYS must be at least 183" in result.stderr
