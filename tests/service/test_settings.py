"""Start-up refuses bad settings by name; production values pass `check --deploy`."""

import base64
import os
import secrets
import subprocess
import sys

import pytest


def run_manage(*args, **env):
    """manage.py in a child process on config.settings; a variable given as None is unset."""
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    merged = {**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        capture_output=True,
        text=True,
        env={k: v for k, v in merged.items() if v is not None},
        timeout=120,
    )


def run_check(*args, **env):
    return run_manage("check", *args, **env)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("CELERY_BROKER_URL", "kafka://localhost"),
        ("GOVREG_LINEAGE_MAX_BODY_BYTES", "five"),
        ("GOVREG_TOKEN_TTL_DAYS", "0"),
        ("GOVREG_TRUSTED_PROXY_COUNT", "0"),
        ("GOVREG_TRUST_X_FORWARDED_FOR", "sometimes"),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(variable, value):
    result = run_check(**{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]


def test_production_values_pass_check_deploy():
    result = run_check(
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="govreg.example.com",
        # production signs the audit trail's checkpoints (base64 of a raw Ed25519 key)
        GOVREG_AUDIT_SIGNING_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_without_a_secret_key_refuses_to_start_naming_it():
    result = run_check(DEBUG="false", SECRET_KEY=None, ALLOWED_HOSTS="govreg.example.com")
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "ImproperlyConfigured" in last
    assert "SECRET_KEY must be set" in last


def test_commands_that_only_read_the_code_need_no_secret_key():
    result = run_manage("makemigrations", "--check", "--dry-run", DEBUG=None, SECRET_KEY=None)
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_production_refuses_the_public_development_key():
    result = run_check(DEBUG="false", SECRET_KEY="django-insecure-local-development-key-change-me")
    assert result.returncode != 0
    assert "SECRET_KEY must not be the public development key" in result.stderr


def test_local_runs_start_without_a_secret_key():
    result = run_check(DEBUG="true", SECRET_KEY=None)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_webhook_secret_is_never_derived_from_the_secret_key():
    script = "from django.conf import settings; print(repr(settings.GOVREG_WEBHOOK_SECRET))"
    result = run_manage(
        "shell",
        "-c",
        script,
        DEBUG="false",
        SECRET_KEY="k-" + "x" * 50,
        GOVREG_WEBHOOK_SECRET=None,
        GOVREG_ESCALATION_WEBHOOK_URL=None,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "None"


def test_a_webhook_url_without_a_webhook_secret_refuses_to_start():
    hook = "https://hooks.example.com/govreg"
    refused = run_check(GOVREG_ESCALATION_WEBHOOK_URL=hook, GOVREG_WEBHOOK_SECRET=None)
    assert refused.returncode != 0
    last = refused.stderr.splitlines()[-1]
    assert "GOVREG_WEBHOOK_SECRET must be set when GOVREG_ESCALATION_WEBHOOK_URL is" in last
    signed = run_check(
        GOVREG_ESCALATION_WEBHOOK_URL=hook, GOVREG_WEBHOOK_SECRET=secrets.token_urlsafe(32)
    )
    assert signed.returncode == 0, signed.stderr
