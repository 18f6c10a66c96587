"""schemathesis over the whole OpenAPI document (issue 17): every operation, as an
administrator, as a pipeline and as an outsider, in the examples, coverage and fuzzing
phases, with positive and negative data. Every answer must be no server error, a status
the operation declares, and a body that matches the schema declared for that status.

The app is called in-process (WSGI) on the test database, over the demo's data seeded
once for the module inside a transaction that is rolled back at the end; each operation's
test runs in a nested transaction of its own, so writes never reach other tests.

Bounded for CI: the examples and fuzzing phases, ``GOVREG_SCHEMATHESIS_EXAMPLES`` fuzzed
examples per operation (3 by default) from a fixed seed (``GOVREG_SCHEMATHESIS_SEED``).
``make schemathesis`` adds the coverage phase (``GOVREG_SCHEMATHESIS_COVERAGE=true``: every
boundary and every kind of invalid value of each parameter, hundreds of requests per
operation) and 25 fuzzed examples. The stateful phase needs links between operations,
which the document does not declare.
"""

import io
import json
import os
from collections import Counter

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from accounts.roles import Role
from accounts.services import issue_token

# The suite's PostgreSQL pass runs this module (CI's step 3, or `make test` with a
# postgres DATABASE_URL); the SQLite pass leaves it to that one, so CI runs it once.
pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="runs in the PostgreSQL pass (DATABASE_URL=postgres://...)",
)

EXAMPLES = int(os.environ.get("GOVREG_SCHEMATHESIS_EXAMPLES", "3"))
COVERAGE = os.environ.get("GOVREG_SCHEMATHESIS_COVERAGE", "false") == "true"
SEED = int(os.environ.get("GOVREG_SCHEMATHESIS_SEED", "17"))
ANSWERS: Counter = Counter()  # status -> count, printed at the end (pytest -s)

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["all"],
        "generation": {
            "mode": "all",
            "max-examples": EXAMPLES,
            "deterministic": True,
            "no-shrink": True,
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": COVERAGE},
            "fuzzing": {"enabled": True},
        },
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
        },
    }
)


def _document() -> dict:
    """The document /api/schema/ serves, as JSON."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


@pytest.fixture(scope="module")
def demo_world(django_db_setup, django_db_blocker):
    """The demo's data and a token per caller, for the module, then rolled back."""
    from django.contrib.auth.models import Group

    from tests.factories import UserFactory

    # as Django's test client does: a request's end must not close the test's connection
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            call_command("seed_demo", stdout=io.StringIO())
            users = {
                "admin": UserFactory(username="st-admin", groups=[Role.ADMIN]),
                "pipeline": UserFactory(
                    username="st-pipeline",
                    groups=[Group.objects.get(name="credit-risk"), Role.PIPELINE],
                ),
                "outsider": UserFactory(
                    username="st-outsider",
                    groups=[Group.objects.get_or_create(name="st-elsewhere")[0], Role.ML_ENGINEER],
                ),
            }
            tokens = {role: issue_token(user, name="st")[1] for role, user in users.items()}
            yield tokens
            by_status = dict(sorted(ANSWERS.items()))
            print(f"\nschemathesis: {ANSWERS.total()} requests, by status {by_status}")
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)


def _run(case, token):
    from config.wsgi import application

    response = case.call(app=application, headers={"Authorization": f"Bearer {token}"})
    ANSWERS[response.status_code] += 1
    case.validate_response(response)


SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)


@pytest.mark.django_db
@schema.parametrize()
@SETTINGS
def test_as_an_administrator(case, demo_world):
    _run(case, demo_world["admin"])


@pytest.mark.django_db
@schema.parametrize()
@SETTINGS
def test_as_a_pipeline(case, demo_world):
    _run(case, demo_world["pipeline"])


@pytest.mark.django_db
@schema.parametrize()
@SETTINGS
def test_as_an_outsider(case, demo_world):
    _run(case, demo_world["outsider"])
