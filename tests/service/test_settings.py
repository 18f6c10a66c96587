"""Start-up refuses bad settings by name; production values pass `check --deploy`."""

import os
import secrets
import subprocess
import sys

import pytest


def run_check(*args, **env):
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        capture_output=True,
        text=True,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("CELERY_BROKER_URL", "kafka://localhost"),
        ("GOVREG_LINEAGE_MAX_BODY_BYTES", "five"),
        ("GOVREG_TOKEN_TTL_DAYS", "0"),
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
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_default_secret_key_is_flagged_by_check_deploy():
    result = run_check("--deploy", DEBUG="false", ALLOWED_HOSTS="govreg.example.com")
    assert "security.W009" in result.stderr + result.stdout
