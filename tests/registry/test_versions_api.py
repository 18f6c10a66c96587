"""Registering and reading model versions through the API."""

import uuid

import pytest

from audit.models import AuditEvent
from registry.models import ModelVersion

pytestmark = pytest.mark.django_db


def version_body(run, **overrides):
    return {
        "model": "loan-default",
        "version": "7",
        "artifact_uri": "s3://models/loan-default/7/model.pkl",
        "artifact_digest": "sha256:" + "ab" * 32,
        "code_repository": "https://git.example.com/credit/loan-default",
        "code_commit": "3f2c1d0",
        "training_run": str(run.run_id),
        **overrides,
    }


def test_pipeline_registers_a_version_with_its_training_run(client_for, owner, model, chain):
    run = chain["training_run"]
    answer = client_for(owner).post("/api/model-versions/", version_body(run), format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["id"] > 0
    assert body["model"] == "loan-default"
    assert body["status"] == "registered"
    assert body["training_run"] == str(run.run_id)
    assert body["training_job"] == {"namespace": "pipelines", "name": "loans_train"}
    assert body["registered_by"] == "olivia"
    assert AuditEvent.objects.filter(
        action="create", object_type="registry.modelversion", object_id=str(body["id"])
    ).exists()


def test_training_run_named_by_openlineage_job_and_run_id(client_for, owner, model, chain):
    run = chain["training_run"]
    reference = {"namespace": "pipelines", "job": "loans_train", "run_id": str(run.run_id)}
    answer = client_for(owner).post(
        "/api/model-versions/", version_body(run, training_run=reference), format="json"
    )
    assert answer.status_code == 201, answer.json()
    assert ModelVersion.objects.get(pk=answer.json()["id"]).training_run == run

    wrong_job = {**reference, "job": "some_other_job"}
    refused = client_for(owner).post(
        "/api/model-versions/",
        version_body(run, version="8", training_run=wrong_job),
        format="json",
    )
    assert refused.status_code == 400
    assert "training_run" in refused.json()["fields"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"training_run": str(uuid.uuid4())}, "training_run"),
        ({"training_run": "not-a-uuid"}, "training_run"),
        ({"training_run": 12}, "training_run"),
        ({"training_run": {"namespace": "pipelines"}}, "training_run"),
        ({"model": "no-such-model"}, "model"),
        ({"artifact_digest": "abcdef"}, "artifact_digest"),
        ({"artifact_uri": ""}, "artifact_uri"),
        ({"version": ""}, "version"),
        ({"status": "retired"}, "status"),
    ],
)
def test_bad_version_input_is_a_400_naming_the_field(
    client_for, owner, model, chain, overrides, field
):
    body = version_body(chain["training_run"], **overrides)
    answer = client_for(owner).post("/api/model-versions/", body, format="json")
    assert answer.status_code == 400, answer.json()
    assert field in answer.json()["fields"], answer.json()
    assert not ModelVersion.objects.exists()


def test_missing_training_run_is_a_400(client_for, owner, model, chain):
    body = version_body(chain["training_run"])
    del body["training_run"]
    answer = client_for(owner).post("/api/model-versions/", body, format="json")
    assert answer.status_code == 400
    assert "training_run" in answer.json()["fields"]


def test_a_label_is_unique_per_model(client_for, owner, model, other_model, chain, auditor):
    client = client_for(owner)
    run = chain["training_run"]
    assert client.post("/api/model-versions/", version_body(run), format="json").status_code == 201
    again = client.post("/api/model-versions/", version_body(run), format="json")
    assert again.status_code == 400
    assert "already has a version" in again.json()["message"]


def test_outsider_sees_no_versions_and_cannot_add_one(
    client_for, owner, member, outsider, version, chain
):
    stranger = client_for(outsider)
    assert stranger.get("/api/model-versions/").json()["results"] == []
    assert stranger.get(f"/api/model-versions/{version.pk}/").status_code == 404
    assert stranger.get(f"/api/model-versions/{version.pk}/lineage").status_code == 404
    refused = stranger.post(
        "/api/model-versions/",
        version_body(chain["training_run"], version="99"),
        format="json",
    )
    assert refused.status_code == 400
    assert "model" in refused.json()["fields"]
    assert not ModelVersion.objects.filter(version="99").exists()
    assert (
        stranger.patch(
            f"/api/model-versions/{version.pk}/", {"description": "x"}, format="json"
        ).status_code
        == 404
    )

    teammate = client_for(member)
    assert [v["id"] for v in teammate.get("/api/model-versions/").json()["results"]] == [version.pk]


def test_a_version_reads_with_its_training_data(client_for, member, version, chain):
    body = client_for(member).get(f"/api/model-versions/{version.pk}/").json()
    assert body["training_data_complete"] is True
    assert body["training_data_problems"] == []
    names = sorted(dv["name"] for dv in body["training_data"])
    assert names == [
        "loans/features/applicant_features",
        "loans/labels/defaults",
        "loans/raw/applications",
        "loans/raw/bureau_scores",
    ]
    assert all(dv["content_hash"].startswith("md5:") for dv in body["training_data"])


def test_model_detail_lists_its_versions(client_for, member, model, version):
    body = client_for(member).get(f"/api/models/{model.pk}/").json()
    assert [(v["id"], v["version"]) for v in body["versions"]] == [(version.pk, "1")]


def test_artifact_and_training_run_are_fixed_after_registration(client_for, owner, version):
    client = client_for(owner)
    refused = client.patch(
        f"/api/model-versions/{version.pk}/",
        {"artifact_digest": "sha256:" + "00" * 32},
        format="json",
    )
    assert refused.status_code == 400
    assert "artifact_digest" in refused.json()["fields"]
    described = client.patch(
        f"/api/model-versions/{version.pk}/", {"description": "retrained monthly"}, format="json"
    )
    assert described.status_code == 200
    assert described.json()["description"] == "retrained monthly"


def test_status_moves_along_its_life_cycle(client_for, owner, version):
    client = client_for(owner)
    url = f"/api/model-versions/{version.pk}/"
    assert client.patch(url, {"status": "validated"}, format="json").json()["status"] == (
        "validated"
    )
    assert AuditEvent.objects.filter(
        action="model_version.status", object_id=str(version.pk)
    ).exists()
    assert client.post(url + "status", {"status": "retired"}, format="json").status_code == 200
    back = client.post(url + "status", {"status": "validated"}, format="json")
    assert back.status_code == 400
    assert "status" in back.json()["fields"]
    unknown = client.patch(url, {"status": "shiny"}, format="json")
    assert unknown.status_code == 400
    assert "status" in unknown.json()["fields"]


def test_filters_by_status_team_and_tier(client_for, auditor, version, other_model, chain):
    from tests.registry.conftest import make_version

    make_version(other_model, chain["training_run"], "1")
    reader = client_for(auditor)
    assert len(reader.get("/api/model-versions/").json()["results"]) == 2
    by_team = reader.get("/api/model-versions/?team=credit-risk").json()["results"]
    assert [v["model"] for v in by_team] == ["loan-default"]
    assert reader.get("/api/model-versions/?status=validated").json()["results"] == []
    assert (
        len(reader.get("/api/model-versions/?tier=high&status=registered").json()["results"]) == 2
    )
    by_run = reader.get(f"/api/model-versions/?training_run={chain['training_run'].run_id}").json()[
        "results"
    ]
    assert len(by_run) == 2


def test_a_version_is_retired_not_deleted(client_for, owner, version):
    answer = client_for(owner).delete(f"/api/model-versions/{version.pk}/")
    assert answer.status_code == 405
    assert ModelVersion.objects.filter(pk=version.pk).exists()
