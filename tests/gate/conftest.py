"""The gate's story: the credit-risk team trains a high-tier loan model through
OpenLineage events, a CI pipeline asks to ship it to production, and two of the
team's approvers decide. The fraud team's approver must not be able to."""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from accounts.roles import Role
from lineage.models import Run
from lineage.services import ingest_event
from registry import services
from registry.models import Environment
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.risk.factories import pass_required_evaluations

PRODUCER = "https://example.com/govreg-gate-tests"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
T0 = datetime(2026, 4, 6, 8, 0, tzinfo=UTC)

CARD = {
    "intended_use": "Score consumer loan applications for default risk.",
    "out_of_scope_uses": "Employment or housing decisions.",
    "known_limitations": "Thin-file applicants are scored conservatively.",
    "capabilities": "Probability of default within 12 months.",
    "ethical_considerations": "Protected attributes are excluded and audited for proxies.",
    "human_oversight": "Declines above 0.8 are reviewed by an underwriter.",
    "contact": "credit-risk@example.com",
}


def md5(text: str) -> str:
    return "md5:" + hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - a content id


def ds(name: str, version: str | None = None, namespace: str = "s3://lake") -> dict:
    spec = {"namespace": namespace, "name": name, "facets": {}}
    if version is not None:
        spec["facets"]["version"] = {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/"
            "DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
            "datasetVersion": version,
        }
    return spec


def ownership(*names: str) -> dict:
    return {
        "ownership": {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/"
            "OwnershipJobFacet.json#/$defs/OwnershipJobFacet",
            "owners": [{"name": f"user:{n}", "type": "MAINTAINER"} for n in names],
        }
    }


def emit(job, inputs=(), outputs=(), *, run_id=None, minutes=0, job_facets=None, kind="COMPLETE"):
    """One OpenLineage run event through the real intake."""
    run_id = run_id or str(uuid.uuid4())
    ingest_event(
        {
            "eventType": kind,
            "eventTime": (T0 + timedelta(minutes=minutes)).isoformat(),
            "producer": PRODUCER,
            "schemaURL": SCHEMA,
            "run": {"runId": run_id, "facets": {}},
            "job": {"namespace": "pipelines", "name": job, "facets": job_facets or {}},
            "inputs": list(inputs),
            "outputs": list(outputs),
        }
    )
    return run_id


def training_lineage(prefix: str, *, author: str | None = "tara") -> Run:
    """raw applications -> feature job -> features -> training run (authored by ``author``)."""
    raw = ds(f"{prefix}/raw/applications", md5(f"{prefix}-raw"))
    features = ds(f"{prefix}/features", md5(f"{prefix}-features"))
    emit(f"{prefix}_features", [raw], [features], minutes=1)
    run_id = emit(
        f"{prefix}_train",
        [features],
        [ds(f"{prefix}/artifact", md5(f"{prefix}-artifact"), namespace="s3://models")],
        minutes=5,
        job_facets=ownership(author) if author else None,
    )
    return Run.objects.select_related("job").get(run_id=run_id)


def add_upstream_input(run: Run, name: str) -> None:
    """A late lineage event: the training run also read another dataset version."""
    emit(
        run.job.name,
        [ds(name, md5(name))],
        [],
        run_id=str(run.run_id),
        minutes=30,
        kind="RUNNING",
    )


def make_model(team, name, tier="high"):
    return services.register_model(
        name=name, team=team, risk_tier=tier, description=f"{name} model", **CARD
    )


def make_version(model, run, label, user):
    return services.register_version(
        model=model,
        version=label,
        artifact_uri=f"s3://models/{model.name}/{label}/model.pkl",
        artifact_digest=f"sha256:{label:0>64}",
        training_run=str(run.run_id),
        registered_by=user,
    )


@pytest.fixture
def production(db):
    return Environment.objects.get(name="production")


@pytest.fixture
def staging(db):
    return Environment.objects.get(name="staging")


@pytest.fixture
def alice(team):
    return UserFactory(username="alice", groups=[team, Role.APPROVER])


@pytest.fixture
def bob(team):
    return UserFactory(username="bob", groups=[team, Role.APPROVER])


@pytest.fixture
def carol(team):
    """An approver of the team who registers versions (registrant)."""
    return UserFactory(username="carol", groups=[team, Role.APPROVER, Role.ML_ENGINEER])


@pytest.fixture
def tara(team):
    """An approver who authored the training run (ownership facet)."""
    return UserFactory(username="tara", groups=[team, Role.APPROVER, Role.ML_ENGINEER])


@pytest.fixture
def frank(other_team):
    """The fraud team's approver: approves fraud models, not credit ones."""
    return UserFactory(username="frank", groups=[other_team, Role.APPROVER])


@pytest.fixture
def board_approver(db):
    """A board member with the approver role but no approve right on any model yet."""
    return UserFactory(username="beatrice", groups=[Role.BOARD, Role.APPROVER])


@pytest.fixture
def pipeline(team):
    return UserFactory(username="ci-credit", groups=[team, Role.PIPELINE])


@pytest.fixture
def loan_model(team):
    return make_model(team, "loan-default", "high")


@pytest.fixture
def fraud_model(other_team):
    return make_model(other_team, "card-fraud", "limited")


@pytest.fixture
def training_run(db, tara):
    return training_lineage("loans", author="tara")


@pytest.fixture
def version(loan_model, training_run, carol):
    """loan-default@7, its required evaluations passed (modules about evaluations
    override this fixture with a version that has none yet)."""
    version = make_version(loan_model, training_run, "7", carol)
    pass_required_evaluations(version, carol)
    return version


@pytest.fixture
def api(db):
    return token_client


def ask(client, model_version, environment="production", **extra):
    body = {
        "model": model_version.model.name,
        "version": model_version.version,
        "environment": environment,
        "pipeline_run_url": "https://ci.example.com/credit/pipelines/412",
        "commit": "9f2c1e7",
        **extra,
    }
    return client.post("/api/deployment-requests/", body, format="json")


@pytest.fixture
def only_registry_checks(monkeypatch):
    """Judge with the registry's own checks and fingerprint parts only, for the few
    tests that name the registry's checks one by one (the exact list a rollback is
    judged by).

    Every other gate test judges with every registered check (the risk register's
    and the playbooks' too): the story's version has its required evaluations passed
    (``pass_required_evaluations``) and no incident is open, so those checks pass and
    the test's subject decides the answer. Ask for this fixture by name
    (``@pytest.mark.usefixtures("only_registry_checks")``); it is never autouse.
    """
    from registry.gate import checks

    def own(registry):
        return {
            name: entry
            for name, entry in registry.items()
            if (entry[1] if isinstance(entry, tuple) else entry).__module__.startswith("registry.")
        }

    monkeypatch.setattr(checks, "_checks", own(checks._checks))
    monkeypatch.setattr(checks, "_fingerprint_parts", own(checks._fingerprint_parts))


@pytest.fixture(autouse=True)
def gate_defaults(db):
    """The seeded environments and default decision rights, even after another test's
    transactional flush emptied them (the data migrations' own functions, idempotent)."""
    import importlib

    from django.apps import apps

    for name in (
        "0004_seed_environments",
        "0006_seed_decision_rights",
        "0011_seed_rollback_rights",
    ):
        importlib.import_module(f"registry.migrations.{name}").seed(apps, None)
