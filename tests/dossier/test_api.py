"""GET /api/models/{name}/dossier: who may read it, what it holds, its errors and its
audit event; the JSON Schema it follows, published at /api/schemas/dossier.json."""

from datetime import UTC

import jsonschema
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from registry.dossier import dossier_schema
from tests.conftest import token_client
from tests.dossier.conftest import pdf_text

pytestmark = pytest.mark.django_db

URL = "/api/models/loan-default/dossier"


def point(document, number):
    return document["points"][number - 1]


def section(document, key):
    return next(s for p in document["points"] for s in p["sections"] if s["key"] == key)


def test_the_team_the_board_and_auditors_read_it_an_outsider_gets_404(
    records, owner, member, auditor, board, outsider
):
    for reader in (owner, member, auditor, board):
        answer = token_client(reader).get(URL)
        assert answer.status_code == 200, (reader.username, answer.content)
        assert answer.json()["model"]["name"] == "loan-default"
    assert token_client(outsider).get(URL).status_code == 404
    assert APIClient().get(URL).status_code == 401


def test_the_dossier_follows_its_schema_and_has_all_nine_points(records, auditor):
    document = token_client(auditor).get(URL, {"version": "1"}).json()
    jsonschema.validate(document, dossier_schema(), cls=jsonschema.Draft202012Validator)
    assert [p["point"] for p in document["points"]] == list(range(1, 10))
    assert document["version"]["version"] == "1"
    # what the apps contributed, each under the point it serves
    assert point(document, 2)["recorded"]
    lineage = section(document, "registry.training-data")
    rows = lineage["tables"][0]["rows"]
    assert {row["dataset"].split("@")[0] for row in rows} >= {
        "s3://lake:loans/raw/applications",
        "s3://lake:loans/raw/bureau_scores",
        "s3://lake:loans/labels/defaults",
    }
    assert all(row["content_hash"].startswith("md5:") for row in rows)
    assert any("loans_build_features" in item for item in lineage["items"])
    evaluations = section(document, "risk.evaluations")["tables"][0]["rows"]
    assert evaluations[0]["success_criterion"] == "ECE below 0.03"
    assert evaluations[0]["reviewer"] == "olivia"
    risks = section(document, "risk.register")["tables"][0]["rows"]
    assert risks[0]["inherent"] == "high (4x4)" and risks[0]["residual"].endswith("(2x3)")
    thresholds = section(document, "risk.thresholds")["tables"][0]["rows"]
    assert thresholds[0]["metric"] == "score_psi" and thresholds[0]["critical"] == 0.25
    assert section(document, "playbooks.incidents")["tables"][0]["rows"][0]["title"] == (
        "Drift on loan-default@1"
    )


def test_points_with_no_record_say_not_recorded(records, auditor):
    document = token_client(auditor).get(URL).json()
    for number in (7, 8):
        assert point(document, number) | {"sections": None} == {
            "point": number,
            "title": point(document, number)["title"],
            "recorded": False,
            "note": "not recorded",
            "sections": None,
        }
        assert all(s["note"] == "not recorded" for s in point(document, number)["sections"])
    pdf = token_client(auditor).get(URL, {"format": "pdf"})
    text = pdf_text(pdf.content)
    assert "7. Harmonised standards and other solutions applied" in text
    assert "Not recorded." in text


def test_the_card_fields_fill_points_7_and_8(model, records, auditor, owner):
    client = token_client(owner)
    answer = client.patch(
        f"/api/models/{model.pk}/",
        {
            "standards_applied": "ISO/IEC 42001:2023\nISO/IEC 23894:2023",
            "conformity_declaration_ref": "DoC-2026-017",
            "eu_database_id": "EUDB-HR-2026-1",
            "post_market_monitoring_plan": "PSI daily in production.",
            "provider": "Example Credit B.V.",
        },
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["eu_database_id"] == "EUDB-HR-2026-1"
    document = token_client(auditor).get(URL).json()
    assert section(document, "registry.standards")["items"] == [
        "ISO/IEC 42001:2023",
        "ISO/IEC 23894:2023",
    ]
    facts = {f["key"]: f["value"] for f in section(document, "registry.conformity")["facts"]}
    assert facts == {
        "conformity_declaration_ref": "DoC-2026-017",
        "eu_database_id": "EUDB-HR-2026-1",
    }
    assert document["model"]["provider"] == "Example Credit B.V."
    assert section(document, "registry.monitoring-plan")["text"] == "PSI daily in production."


def test_the_pdf_has_a_heading_per_point_and_the_tables(records, auditor):
    answer = token_client(auditor).get(URL, {"format": "pdf", "version": "1"})
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/pdf"
    assert 'filename="loan-default-1-dossier.pdf"' in answer["Content-Disposition"]
    text = pdf_text(answer.content)
    for title in (
        "1. General description of the AI system",
        "2. Elements of the AI system and the process of its development",
        "5. The risk-management system (Art. 9)",
        "9. Post-market monitoring (Art. 72)",
    ):
        assert title in text
    assert "Training data provenance (lineage)" in text
    assert "loans/raw/bureau_scores" in text
    assert "Score drift" in text and "ECE below 0.03" in text


def test_each_export_is_an_audit_event(records, version, auditor):
    client = token_client(auditor)
    client.get(URL)
    moment = timezone.now().astimezone(UTC)
    client.get(URL, {"format": "pdf", "asOf": moment.isoformat().replace("+00:00", "Z")})
    events = AuditEvent.objects.filter(action="dossier.exported").order_by("seq")
    assert [(e.actor_username, e.after["format"], e.after["as_of"]) for e in events] == [
        ("audrey", "json", None),
        ("audrey", "pdf", moment.isoformat().replace("+00:00", "Z")),
    ]
    assert {(e.object_type, e.object_id) for e in events} == {
        ("registry.modelversion", str(version.pk))
    }
    assert events[0].after["recorded_points"] == [1, 2, 3, 4, 5, 6, 9]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "xml"}, "format"),
        ({"asOf": "last tuesday"}, "asOf"),
        ({"asOf": "2999-01-01T00:00:00Z"}, "asOf"),
        ({"asOf": "2001-01-01T00:00:00Z"}, "asOf"),
        ({"version": "99"}, "version"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(records, auditor, params, field):
    answer = token_client(auditor).get(URL, params)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["fields"]
    assert not AuditEvent.objects.filter(action="dossier.exported").exists()


def test_a_model_is_named_by_name_or_id(model, records, auditor):
    client = token_client(auditor)
    assert client.get(f"/api/models/{model.pk}/dossier").json()["model"]["name"] == model.name
    assert client.get("/api/models/no-such-model/dossier").status_code == 404


def test_the_schema_is_published(db):
    answer = APIClient().get("/api/schemas/dossier.json")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/schema+json"
    assert answer.json() == dossier_schema()
