"""The demo's loan-default@3, as an auditor downloads it: the JSON validates against
the published schema and all nine points are recorded (the demo fills the card's
regulatory fields); the PDF reads the same; asOf before the production request shows
what stood before it."""

from datetime import timedelta

import jsonschema
import pytest

from accounts import demo as accounts_demo
from registry.models import DeploymentRequest
from tests.conftest import token_client
from tests.dossier.conftest import pdf_pages, pdf_text

# Transactional: the demo's chapters commit, as in seed_demo.
pytestmark = pytest.mark.django_db(transaction=True)


def sections(document):
    return {s["key"]: s for p in document["points"] for s in p["sections"]}


def test_the_demo_dossier_of_loan_default_3(django_user_model):
    accounts_demo.run_all()
    auditor = django_user_model.objects.get(username="auditor")
    client = token_client(auditor)
    url = "/api/models/loan-default/dossier"

    document = client.get(url, {"version": "3"}).json()
    schema = client.get("/api/schemas/dossier.json").json()
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    assert [p["recorded"] for p in document["points"]] == [True] * 9
    found = sections(document)
    assert found["registry.standards"]["items"][0].startswith("ISO/IEC 42001")
    assert {f["key"]: f["value"] for f in found["registry.conformity"]["facts"]} == {
        "conformity_declaration_ref": "DoC-2026-017 (credit-risk/loan-default, signed by the CRO)",
        "eu_database_id": "EUDB-HR-2026-004711",
    }
    lineage = found["registry.training-data"]["tables"][0]["rows"]
    assert any("credit/raw/bureau_scores" in row["dataset"] for row in lineage)
    assert all(row["content_hash"] for row in lineage)
    approvals = found["registry.approvals"]["tables"][1]["rows"]
    assert {"approver", "approver2"} <= {row["approver"] for row in approvals}
    incidents = found["playbooks.incidents"]["tables"][0]["rows"]
    assert incidents and all(row["incident"] for row in incidents)

    pdf = client.get(url, {"version": "3", "format": "pdf"})
    assert pdf.status_code == 200
    text = pdf_text(pdf.content)
    for p in document["points"]:
        assert f"{p['point']}. {p['title']}" in text
    assert "EUDB-HR-2026-004711" in text
    assert "Example Consumer Credit B.V." in text
    assert pdf_pages(pdf.content) >= 5

    # As the approvers of @3's production request saw it: before the request existed.
    request = DeploymentRequest.objects.get(
        model_version__model__name="loan-default",
        model_version__version="3",
        environment__name="production",
    )
    before = client.get(url, {"version": "3", "asOf": request.created_at.isoformat()}).json()
    requests = sections(before)["registry.approvals"]["tables"][0]["rows"]
    assert request.pk in {row["request"] for row in requests}  # made at that very moment
    earlier = (request.created_at - timedelta(seconds=1)).isoformat()
    requests = sections(client.get(url, {"version": "3", "asOf": earlier}).json())
    assert request.pk not in {
        row["request"] for row in requests["registry.approvals"]["tables"][0]["rows"]
    }
