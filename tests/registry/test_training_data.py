"""A version's training data is derived from lineage, across every hop."""

import pytest

from lineage.services import change_dataset_version
from registry import services
from tests.registry.conftest import make_version
from tests.registry.story import ds, emit_run, md5

pytestmark = pytest.mark.django_db


def test_training_data_follows_raw_data_through_the_feature_job(version, chain):
    found = services.training_data(version)
    assert {dv.pk for dv in found} == {
        chain["raw_a"].pk,
        chain["raw_b"].pk,
        chain["features"].pk,
        chain["labels"].pk,
    }
    verdict = services.training_data_verdict(version)
    assert verdict.complete
    assert verdict.problems == []


def test_three_hops_reach_the_source_system(model, owner):
    """crm export -> cleaning -> features -> training: four runs, all upstream found."""
    export = ds("crm/export", md5("crm-1"))
    cleaned = ds("crm/cleaned", md5("crm-clean-1"))
    features = ds("crm/features", md5("crm-feat-1"))
    emit_run("crm_extract", [], [export])
    emit_run("crm_clean", [export], [cleaned])
    emit_run("crm_features", [cleaned], [features])
    training = emit_run("crm_train", [features], [ds("crm/model", md5("m"), "s3://models")])
    version = make_version(model, training, "crm-1", user=owner)
    names = sorted(dv.dataset.name for dv in services.training_data(version))
    assert names == ["crm/cleaned", "crm/export", "crm/features"]


def test_an_input_without_a_content_hash_makes_training_data_incomplete(model, owner):
    unhashed = ds("scratch/adhoc_sample")  # no version facet: no content hash
    training = emit_run("adhoc_train", [unhashed, ds("labels", md5("l1"))], [])
    version = make_version(model, training, "adhoc", user=owner)
    verdict = services.training_data_verdict(version)
    assert not verdict.complete
    assert any("scratch/adhoc_sample" in p and "no content hash" in p for p in verdict.problems)


def test_a_revoked_upstream_version_two_hops_away_is_named(version, chain):
    from tests.factories import UserFactory

    steward = UserFactory(username="steward", groups=["ml-engineer"])
    change_dataset_version(chain["raw_b"], actor=steward, status="revoked")
    verdict = services.training_data_verdict(version)
    assert not verdict.complete
    assert verdict.problems == [
        "s3://lake:loans/raw/bureau_scores@" + chain["raw_b"].version + " is revoked."
    ]


def test_no_upstream_data_is_incomplete(model, owner):
    training = emit_run("train_from_nothing", [], [])
    version = make_version(model, training, "empty", user=owner)
    verdict = services.training_data_verdict(version)
    assert not verdict.complete
    assert "no dataset version upstream" in verdict.problems[0]


def test_lineage_endpoint_shows_the_whole_upstream(client_for, member, version, chain):
    body = client_for(member).get(f"/api/model-versions/{version.pk}/lineage").json()
    assert body["id"] == version.pk
    assert body["model"] == "loan-default"
    assert body["training_data_complete"] is True
    assert body["training_run"]["run_id"] == str(chain["training_run"].run_id)
    by_name = {dv["name"]: dv for dv in body["dataset_versions"]}
    assert set(by_name) == {
        "loans/raw/applications",
        "loans/raw/bureau_scores",
        "loans/features/applicant_features",
        "loans/labels/defaults",
    }
    features = by_name["loans/features/applicant_features"]
    assert features["namespace"] == "s3://lake"
    assert features["content_hash"] == chain["features"].content_hash
    assert features["status"] == "active"
    assert features["producing_run"] == str(chain["feature_run"].run_id)
    assert {(j["namespace"], j["name"]) for j in body["jobs"]} == {
        ("pipelines", "loans_build_features"),
        ("pipelines", "loans_train"),
    }
    assert len(body["runs"]) == 2
