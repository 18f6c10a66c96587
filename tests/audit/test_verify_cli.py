"""``govreg verify``: the offline verifier from the shell, without Django or requests."""

import io
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from audit.bundles import write_bundle
from audit.models import AuditEvent
from audit.services import sign_checkpoint
from tests.audit.conftest import PUBLIC_PEM, append_events
from tests.conftest import token_client

pytestmark = pytest.mark.django_db
GOVREG = Path(sys.executable).with_name("govreg")

PROBE = """
import sys
from govreg_cli.main import main
code = main(sys.argv[1:])
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"django", "requests", "psycopg"})
print("loaded:", loaded)
sys.exit(code)
"""


@pytest.fixture
def files(signing_key, tmp_path):
    append_events(6)
    earlier = tmp_path / "earlier-checkpoint.txt"
    earlier.write_text(sign_checkpoint().note())
    append_events(6)
    out = io.BytesIO()
    write_bundle(out, [], kind="audit-export", events=AuditEvent.objects.all())
    bundle = tmp_path / "export.zip"
    bundle.write_bytes(out.getvalue())
    key = tmp_path / "keys.pem"
    key.write_bytes(PUBLIC_PEM)
    return {"bundle": bundle, "key": key, "earlier": earlier, "tmp": tmp_path}


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        cwd=Path(__file__).resolve().parents[2],
    )


def test_a_good_bundle_exits_0_with_a_summary_and_loads_no_django(files):
    result = run(
        "verify",
        files["bundle"],
        "--public-key",
        files["key"],
        "--previous-checkpoint",
        files["earlier"],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK audit-export")
    assert "extends the previous checkpoint" in result.stdout
    assert "loaded: []" in result.stdout


def test_a_tampered_bundle_exits_1_naming_the_file(files):
    tampered = files["tmp"] / "tampered.zip"
    with zipfile.ZipFile(files["bundle"]) as source, zipfile.ZipFile(tampered, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "events.jsonl":
                data = data.replace(b'"n":3', b'"n":4', 1)
            target.writestr(name, data)
    result = run("verify", tampered, "--public-key", files["key"])
    assert result.returncode == 1
    assert "FAILED events.jsonl: SHA-256" in result.stderr


def test_an_unreadable_file_exits_3(files):
    result = run("verify", files["bundle"], "--public-key", files["tmp"] / "missing.pem")
    assert result.returncode == 3
    assert "missing.pem" in result.stderr


def test_the_installed_script_and_the_module_verify_too(files):
    script = subprocess.run(
        [str(GOVREG), "verify", str(files["bundle"]), "--public-key", str(files["key"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert script.returncode == 0, script.stderr
    module = subprocess.run(
        [sys.executable, "-m", "govreg_verify", str(files["bundle"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert module.returncode == 0, module.stderr
    assert "keys taken from the bundle itself" in module.stdout


def test_a_real_export_from_the_api_verifies_with_the_installed_cli(
    signing_key, auditor, tmp_path, django_capture_on_commit_callbacks
):
    """The regulator's whole path: keep last quarter's checkpoint and the public keys
    from the API, ask for an export of the period, download it when done, and run
    ``govreg verify`` on it; then the same with one byte of it changed."""
    api = token_client(auditor)
    start = timezone.now()
    append_events(8)
    sign_checkpoint()  # beat's hourly checkpoint
    earlier = tmp_path / "kept-checkpoint.txt"
    earlier.write_text(api.get("/api/audit/checkpoint").json()["note"])
    append_events(8)
    with django_capture_on_commit_callbacks(execute=True):
        asked = api.post(
            "/api/audit-exports/",
            {
                "after": start.isoformat(),
                "before": (timezone.now() + timedelta(minutes=1)).isoformat(),
            },
            format="json",
        )
    assert asked.status_code == 202, asked.content
    status = api.get(f"/api/audit-exports/{asked.json()['id']}/").json()
    assert status["status"] == "done"
    bundle = tmp_path / "export.zip"
    bundle.write_bytes(b"".join(api.get(status["download"]).streaming_content))
    keys = tmp_path / "govreg-keys.pem"
    keys.write_text("".join(row["public_key"] for row in api.get("/api/audit/keys").json()))

    def govreg_verify(path):
        return subprocess.run(
            [str(GOVREG), "verify", str(path), "--public-key", str(keys)]
            + ["--previous-checkpoint", str(earlier)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    result = govreg_verify(bundle)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK audit-export")
    assert f"{status['events']} events" in result.stdout
    assert "extends the previous checkpoint" in result.stdout

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(tampered, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "events.jsonl":
                data = data.replace(b'"n":5', b'"n":6', 1)
            target.writestr(name, data)
    result = govreg_verify(tampered)
    assert result.returncode == 1
    assert "FAILED events.jsonl: SHA-256" in result.stderr
