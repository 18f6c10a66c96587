"""A page of 50 of anything costs no more queries than a page of 5: every main list
endpoint reads its page, the permission scope and the related rows in a fixed number
of statements, whatever the page size (query counts are deterministic; no timing).
And ``GET /api/me/``, the API's floor, costs two: the token and the group names."""

import importlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from playbooks.models import Incident, Signal
from registry import services
from registry.models import Environment
from risk.models import Evaluation
from tests.registry.conftest import make_model, make_version
from tests.registry.shipping import approved_request
from tests.registry.story import ds, emit_run, md5, training_chain
from tests.risk.factories import make_risk

pytestmark = pytest.mark.django_db

ROWS = 50
NAMESPACE = "lake"

ENDPOINTS = [
    "/api/models/",
    "/api/model-versions/",
    "/api/deployments/",
    "/api/deployment-requests/",
    "/api/risks/",
    "/api/incidents/",
    "/api/signals/",
    "/api/evaluations/",
    f"/api/v1/namespaces/{NAMESPACE}/datasets",
]


def rows_of(body: dict) -> list:
    """The page's rows: ``results`` (the API's pages) or ``datasets`` (Marquez's)."""
    return body["results"] if "results" in body else body["datasets"]


@pytest.fixture
def fifty(team, owner):
    """50 models, each with a version deployed to staging and asked for production, an
    evaluation, a risk, an incident and a signal; 50 datasets in one namespace."""
    seeded = importlib.import_module("registry.migrations.0004_seed_environments")
    for name, order, protected, text in seeded.ENVIRONMENTS:
        Environment.objects.get_or_create(
            name=name, defaults={"order": order, "protected": protected, "description": text}
        )
    staging = Environment.objects.get(name="staging")
    production = Environment.objects.get(name="production")
    run = training_chain("loans")["training_run"]
    for index in range(ROWS):
        model = make_model(team, f"model-{index:03d}")
        version = make_version(model, run, "1", user=owner)
        services.deploy(version, staging, owner)
        approved_request(version, production, owner)
        Evaluation.objects.create(
            model_version=version, kind="adversarial", name=f"suite {index}", outcome="passed"
        )
        make_risk(team, owner, title=f"risk {index}")
        Incident.objects.create(title=f"drift {index}", severity="minor", model=model)
        Signal.objects.create(source="api", metric="psi", value=0.1 * index, model=model)
    emit_run(
        "export",
        [],
        [ds(f"tables/t{index:03d}", md5(str(index)), namespace=NAMESPACE) for index in range(ROWS)],
    )


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_page_of_50_costs_what_a_page_of_5_costs(client_for, owner, fifty, url):
    client = client_for(owner)
    counts = {}
    for size in (5, ROWS):
        separator = "&" if "?" in url else "?"
        with CaptureQueriesContext(connection) as captured:
            answer = client.get(f"{url}{separator}limit={size}")
        assert answer.status_code == 200, answer.content
        assert len(rows_of(answer.json())) == size
        counts[size] = len(captured.captured_queries)
    # the page of 50 is the last one: it needs no COUNT(*), so it may cost one less
    assert counts[ROWS] <= counts[5], counts


def test_who_am_i_costs_the_token_and_the_group_names(client_for, owner):
    client = client_for(owner)
    with CaptureQueriesContext(connection) as captured:
        answer = client.get("/api/me/")
    assert answer.status_code == 200
    assert answer.json()["teams"] == ["credit-risk"]
    assert answer.json()["roles"] == ["ml-engineer"]
    # the request's own transaction (ATOMIC_REQUESTS: a savepoint here) is left out
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) <= 2, statements
