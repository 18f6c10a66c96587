"""The catalog's gate checks and fingerprint parts, as the gate calls them."""

import pytest

from lineage.services import change_dataset_version
from registry import services
from registry.gate.checks import fingerprint_of, fingerprint_parts, registered_checks
from registry.gate.services import context_for
from registry.models import DeploymentRequest
from tests.factories import UserFactory
from tests.registry.conftest import make_model, make_version
from tests.registry.story import ds, emit_run

pytestmark = pytest.mark.django_db


def request_for(version, environment):
    """A deployment request as first asked (judged before it is saved)."""
    return DeploymentRequest(model_version=version, environment=environment)


def run_check(name, request):
    checks = dict(registered_checks())
    return checks[name](request, context_for(request))


def test_the_three_checks_are_registered():
    names = [name for name, _ in registered_checks()]
    for name in ("version-not-retired", "model-card-complete", "training-data-complete"):
        assert name in names


def test_a_complete_version_passes(version, production):
    request = request_for(version, production)
    for name in ("version-not-retired", "model-card-complete", "training-data-complete"):
        assert run_check(name, request).passed, name


def test_card_check_lists_the_missing_fields(team, chain, production):
    model = make_model(team, "bare", card=False)
    version = make_version(model, chain["training_run"], "1")
    result = run_check("model-card-complete", request_for(version, production))
    assert not result.passed
    assert not result.final
    assert "intended use" in result.reason
    assert "human oversight" in result.reason


def test_training_data_check_names_revoked_and_unhashed_versions(version, chain, production):
    steward = UserFactory(username="steward", groups=["ml-engineer"])
    change_dataset_version(chain["labels"], actor=steward, status="quarantined")
    result = run_check("training-data-complete", request_for(version, production))
    assert not result.passed
    assert result.final
    assert "loans/labels/defaults" in result.reason
    assert "quarantined" in result.reason


def test_training_data_check_fails_without_hashes(model, production):
    run = emit_run("unhashed_train", [ds("tmp/sample")], [])
    version = make_version(model, run, "u1")
    result = run_check("training-data-complete", request_for(version, production))
    assert not result.passed
    assert "no content hash" in result.reason


def test_retired_version_check_is_final(version, production):
    services.change_version_status(version, "retired")
    result = run_check("version-not-retired", request_for(version, production))
    assert not result.passed
    assert result.final


def fingerprint(version) -> str:
    return fingerprint_of(fingerprint_parts(version))


def test_fingerprint_changes_with_dataset_status_and_card(version, chain):
    parts = fingerprint_parts(version)
    assert {"lineage", "card"} <= set(parts)
    assert len(parts["lineage"]) == 4
    before = fingerprint(version)
    steward = UserFactory(username="steward", groups=["ml-engineer"])
    change_dataset_version(chain["raw_a"], actor=steward, status="quarantined")
    after_quarantine = fingerprint(version)
    assert after_quarantine != before
    model = version.model
    model.contact = "someone-else@example.com"
    model.save()
    version.refresh_from_db()
    assert fingerprint(version) != after_quarantine
