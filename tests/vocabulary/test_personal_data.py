"""Tags flow along lineage: loan-default@7 is trained on raw applications; once that
dataset version is tagged PII.Sensitive the version is "trained on personal data" on
its API answer, its dossier and at the gate, computed, never typed in. The gate lets
it into production only with consent notes and a passing privacy review."""

import jsonschema
import pytest

from lineage.models import DatasetVersion
from registry.dossier import dossier_schema
from registry.gate.checks import registered_checks
from tests.gate.conftest import ask
from tests.risk.factories import pass_required_evaluations

pytestmark = pytest.mark.django_db

CHECK = "personal-data-safeguards"


@pytest.fixture
def raw():
    return DatasetVersion.objects.get(dataset__name="loans/raw/applications")


def tag(client, target_type, target_id, name="PII.Sensitive", **extra):
    body = {"target_type": target_type, "target_id": target_id, "tag": name, **extra}
    response = client.post("/api/tag-assignments/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_version_trained_on_a_tagged_dataset_version_is_trained_on_personal_data(
    api, owner, version, raw
):
    client = api(owner)
    url = f"/api/model-versions/{version.pk}/"
    before = client.get(url).json()
    assert before["trained_on_personal_data"] is False
    assert before["personal_data"] == []

    assignment = tag(client, "dataset-version", raw.pk)
    after = client.get(url).json()
    assert after["trained_on_personal_data"] is True
    assert after["personal_data"] == [f"{raw} is tagged PII.Sensitive"]

    # computed on every read: the tag removed, the version is no longer so
    client.delete(f"/api/tag-assignments/{assignment['id']}/")
    assert client.get(url).json()["trained_on_personal_data"] is False
    # a non-sensitive tag does not make it personal data
    tag(client, "dataset-version", raw.pk, "PII.NonSensitive")
    assert client.get(url).json()["trained_on_personal_data"] is False


def test_a_tagged_column_of_the_dataset_counts_too(api, owner, version, raw):
    dataset = raw.dataset
    dataset.facets = {"schema": {"fields": [{"name": "applicant_email"}]}}
    dataset.save(update_fields=["facets"])
    tag(api(owner), "dataset", dataset.pk, field="applicant_email")
    answer = api(owner).get(f"/api/model-versions/{version.pk}/").json()
    assert answer["trained_on_personal_data"] is True
    assert answer["personal_data"] == [
        f"{raw}: its columns applicant_email are tagged PII.Sensitive"
    ]


def test_the_dossier_says_so_and_follows_its_schema(api, owner, auditor, version, raw):
    tag(api(owner), "dataset-version", raw.pk)
    raw.consent_notes = "Applicants consent at application time (form v3)."
    raw.save(update_fields=["consent_notes"])
    document = api(auditor).get(f"/api/models/loan-default/dossier?version={version.version}")
    assert document.status_code == 200, document.content[:300]
    document = document.json()
    jsonschema.validate(document, dossier_schema(), cls=jsonschema.Draft202012Validator)
    point = document["points"][1]
    section = next(s for s in point["sections"] if s["key"] == "registry.personal-data")
    assert section["recorded"] is True
    facts = {fact["key"]: fact["value"] for fact in section["facts"]}
    assert facts["trained_on_personal_data"] is True
    row = section["tables"][0]["rows"][0]
    assert row["dataset"] == f"{raw.dataset.namespace.name}:{raw.dataset.name}@{raw.version}"
    assert row["consent_notes"] == "Applicants consent at application time (form v3)."


def test_the_gate_wants_consent_notes_and_a_privacy_review(
    api, owner, pipeline, version, raw, admin
):
    assert CHECK in [name for name, _ in registered_checks("deploy")]
    assert CHECK not in [name for name, _ in registered_checks("rollback")]
    pass_required_evaluations(version, owner)
    ci = api(pipeline)

    untagged = ask(ci, version).json()
    checks = {c["name"]: c for c in untagged["checks"]}
    assert checks[CHECK]["passed"] is True
    assert checks[CHECK]["reason"] == "No training dataset version is tagged PII.Sensitive."

    tag(api(owner), "dataset-version", raw.pk)
    held = ask(ci, version).json()
    checks = {c["name"]: c for c in held["checks"]}
    assert checks[CHECK]["passed"] is False
    reason = checks[CHECK]["reason"]
    assert f"{raw} holds personal data and has no consent notes" in reason
    assert "has no passing privacy review" in reason
    assert f"PATCH /api/lineage/dataset-versions/{raw.pk} consent_notes" in reason

    # staging is not protected: the check does not hold it there
    staged = ask(ci, version, environment="staging").json()
    assert {c["name"]: c for c in staged["checks"]}[CHECK]["passed"] is True

    patched = api(owner).patch(
        f"/api/lineage/dataset-versions/{raw.pk}",
        {"consent_notes": "Consent recorded at application (form v3), withdrawal honoured."},
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    failing = ci.post(
        f"/api/model-versions/{version.pk}/evaluations",
        [{"kind": "privacy-review", "name": "DPIA", "passed": False}],
        format="json",
    )
    assert failing.status_code == 201, failing.json()
    reason = {c["name"]: c for c in ask(ci, version).json()["checks"]}[CHECK]["reason"]
    assert "the privacy review of" in reason and "'DPIA'" in reason
    assert "consent notes" not in reason

    ci.post(
        f"/api/model-versions/{version.pk}/evaluations",
        [{"kind": "privacy-review", "name": "DPIA", "passed": True}],
        format="json",
    )
    cleared = {c["name"]: c for c in ask(ci, version).json()["checks"]}[CHECK]
    assert cleared["passed"] is True, cleared
    assert cleared["reason"].startswith("Trained on personal data (1 dataset version(s))")
