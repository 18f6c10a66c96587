"""Settings for the test suite: the production settings, served over plain HTTP."""

import os
import secrets

# The suite runs with DEBUG off, which needs a secret key; child processes
# (manage.py, workers) inherit this one.
os.environ.setdefault("SECRET_KEY", "tests-" + secrets.token_urlsafe(40))

from config.settings import *  # noqa: E402, F403

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in prod
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The suite's flush between tests may empty the append-only audit tables on
# PostgreSQL (tests/management/commands/flush.py); production's flush may not.
INSTALLED_APPS = [*INSTALLED_APPS, "tests"]  # noqa: F405
# Transactional tests restore the migrated database from a serialized copy
# (tests/conftest.py); the audit trail is left out of it: restoring the roles'
# permissions records its own audit events, as migrating does, and copied events
# would collide with them in the chain.
TEST_NON_SERIALIZED_APPS = ["audit"]
# The suite is not rate limited (its requests all come from one address, and the
# in-memory counts would carry from test to test); tests/faults sets low rates itself.
GOVREG_RATE_LIMITS = dict.fromkeys(GOVREG_RATE_LIMITS)  # noqa: F405
# The playbook tests escalate to a shared on-call group (tests/playbooks/conftest.py).
GOVREG_SHARED_ESCALATION_GROUPS = ["oncall-leads"]
