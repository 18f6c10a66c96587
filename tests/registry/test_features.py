"""Features and their versions: definitions and the dataset versions they read."""

import pytest

from registry.models import FeatureVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def feature(client_for, owner):
    answer = client_for(owner).post(
        "/api/features/",
        {"name": "applicant-debt-ratio", "team": "credit-risk", "description": "debt / income"},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    return answer.json()


def test_a_feature_version_names_its_definition_and_sources(client_for, member, feature, chain):
    raw = chain["raw_a"]
    answer = client_for(member).post(
        "/api/feature-versions/",
        {
            "feature": "applicant-debt-ratio",
            "version": "1",
            "definition_kind": "code",
            "definition": "https://git.example.com/credit/features@9a1b2c:ratios.py#debt_ratio",
            "source_dataset_versions": [
                {"namespace": "s3://lake", "name": raw.dataset.name, "version": raw.version},
                chain["raw_b"].pk,
            ],
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["id"] > 0
    assert body["created_by"] == "mark"
    assert sorted(s["name"] for s in body["source_dataset_versions"]) == [
        "loans/raw/applications",
        "loans/raw/bureau_scores",
    ]
    assert all(s["content_hash"].startswith("md5:") for s in body["source_dataset_versions"])
    listed = client_for(member).get("/api/feature-versions/?feature=applicant-debt-ratio")
    assert [v["id"] for v in listed.json()["results"]] == [body["id"]]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"definition": ""}, "definition"),
        ({"definition_kind": "code", "definition": "ratios.py"}, "definition"),
        ({"definition_kind": "magic"}, "definition_kind"),
        ({"source_dataset_versions": [999999]}, "source_dataset_versions"),
        ({"source_dataset_versions": [{"namespace": "x"}]}, "source_dataset_versions"),
        ({"feature": "unknown-feature"}, "feature"),
    ],
)
def test_bad_feature_version_input_names_the_field(client_for, owner, feature, overrides, field):
    body = {
        "feature": "applicant-debt-ratio",
        "version": "1",
        "definition_kind": "expression",
        "definition": "debt / nullif(income, 0)",
        **overrides,
    }
    answer = client_for(owner).post("/api/feature-versions/", body, format="json")
    assert answer.status_code == 400, answer.json()
    assert any(name.startswith(field) for name in answer.json()["fields"]), answer.json()


def test_outsider_neither_sees_nor_extends_the_feature(client_for, outsider, owner, feature):
    client_for(owner).post(
        "/api/feature-versions/",
        {
            "feature": "applicant-debt-ratio",
            "version": "1",
            "definition_kind": "expression",
            "definition": "debt / income",
        },
        format="json",
    )
    stranger = client_for(outsider)
    assert stranger.get("/api/features/").json()["results"] == []
    assert stranger.get("/api/feature-versions/").json()["results"] == []
    assert stranger.get(f"/api/features/{feature['id']}/").status_code == 404
    refused = stranger.post(
        "/api/feature-versions/",
        {
            "feature": "applicant-debt-ratio",
            "version": "2",
            "definition_kind": "expression",
            "definition": "0",
        },
        format="json",
    )
    assert refused.status_code == 400
    assert "feature" in refused.json()["fields"]
    assert FeatureVersion.objects.count() == 1


def test_duplicate_feature_version_label_is_refused(client_for, owner, feature):
    body = {
        "feature": "applicant-debt-ratio",
        "version": "1",
        "definition_kind": "expression",
        "definition": "debt / income",
    }
    client = client_for(owner)
    assert client.post("/api/feature-versions/", body, format="json").status_code == 201
    again = client.post("/api/feature-versions/", body, format="json")
    assert again.status_code == 400
    assert "already has a version" in again.json()["message"]


def test_impact_lists_feature_versions_computed_from_the_data(client_for, owner, feature, chain):
    raw = chain["raw_a"]
    client = client_for(owner)
    client.post(
        "/api/feature-versions/",
        {
            "feature": "applicant-debt-ratio",
            "version": "1",
            "definition_kind": "expression",
            "definition": "debt / income",
            "source_dataset_versions": [raw.pk],
        },
        format="json",
    )
    body = client.get(
        f"/api/impact?namespace=s3://lake&name={raw.dataset.name}&version={raw.version}"
    ).json()
    assert body["feature_versions"][0]["feature"] == "applicant-debt-ratio"


def test_a_feature_version_is_immutable(client_for, owner, feature):
    client = client_for(owner)
    created = client.post(
        "/api/feature-versions/",
        {
            "feature": "applicant-debt-ratio",
            "version": "1",
            "definition_kind": "expression",
            "definition": "debt / income",
        },
        format="json",
    ).json()
    url = f"/api/feature-versions/{created['id']}/"
    assert client.patch(url, {"definition": "0"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    renamed = client.patch(
        f"/api/features/{feature['id']}/", {"description": "debt service ratio"}, format="json"
    )
    assert renamed.status_code == 200
    assert renamed.json()["description"] == "debt service ratio"
