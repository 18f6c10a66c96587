import importlib

import pytest
from django.apps import apps


@pytest.fixture(autouse=True)
def risk_defaults(db):
    """The seeded matrix, required evaluations and decision rights, even after another
    test's transactional flush emptied them (the data migrations' own, idempotent seeds)."""
    for module in (
        "registry.migrations.0004_seed_environments",
        "registry.migrations.0006_seed_decision_rights",
        "risk.migrations.0002_seed_matrix_and_required_evaluations",
        "risk.migrations.0003_seed_accept_risk_right",
    ):
        importlib.import_module(module).seed(apps, None)
