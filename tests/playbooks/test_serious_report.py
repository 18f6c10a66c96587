"""The serious-incident report (EU AI Act Art. 73): GET /api/incidents/{id}/report as
JSON (following the schema published at /api/schemas/serious-incident-report.json)
and as PDF; who may read it; each download an audit event; initial until the
post-incident review is completed, then complete. POST on the same path still marks
the report sent."""

import io
from datetime import timedelta

import jsonschema
import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader
from rest_framework.test import APIClient

from accounts.roles import Role
from audit.models import AuditEvent
from playbooks import serious_report
from playbooks.models import ActionItem, PostIncidentReview
from playbooks.services import incidents, reviews
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.playbooks.conftest import T0

pytestmark = pytest.mark.django_db

AWARE = T0 + timedelta(hours=3)


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def url(incident) -> str:
    return f"/api/incidents/{incident.pk}/report"


@pytest.fixture
def board(db):
    return UserFactory(username="bea", groups=[Role.BOARD])


@pytest.fixture
def admin(db):
    return UserFactory(username="ada", groups=[Role.ADMIN])


@pytest.fixture
def serious(model, deployment, owner):
    """A wrongful-decline incident on loan-default@2 in production, marked a widespread
    infringement, with what the report asks beyond the clock filled in."""
    model.provider = "Example Credit B.V."
    model.eu_database_id = "EUDB-HR-2026-000042"
    model.save(update_fields=["provider", "eu_database_id"])
    incident = incidents.open_incident(
        model=model,
        title="Applicants declined wrongly",
        description="Scores of thin-file applicants rose above the decline cut-off.",
        severity="high",
        environment_name="production",
        links={"model_version": deployment.model_version, "deployment": deployment},
        now=T0,
    )
    incident.occurred_at = T0 - timedelta(hours=6)
    incident.affected_member_states = ["NL", "DE"]
    incident.persons_affected = 412
    incident.causal_link = "A feature pipeline change doubled the bureau score's weight."
    incident.immediate_actions = "Rolled back to @1; declines of the period re-scored."
    incident.other_regimes_notified = "Dutch DPA under GDPR Art. 33 on 2026-05-05."
    incident.save()
    incidents.mark_serious(incident, owner, category="widespread", aware_at=AWARE, now=AWARE)
    incident.refresh_from_db()
    return incident


def complete_review(incident, owner):
    review = reviews.save_review(
        PostIncidentReview(
            incident=incident,
            summary="Declines rose for six hours.",
            root_cause="The bureau score entered the features twice after a refactoring.",
            resolution="Rolled back, the pipeline fixed, @3 retrained.",
            lessons="Diff the feature list of every training run against the last one.",
        )
    )
    reviews.save_action_item(
        ActionItem(
            review=review,
            title="Check the feature list in CI",
            description="Fail a training run whose features changed without review.",
            owner=owner,
            due_date=(T0 + timedelta(days=14)).date(),
        )
    )
    return reviews.complete_review(review, owner, now=T0 + timedelta(days=2))


def test_the_team_the_board_auditors_and_admins_read_it_an_outsider_gets_404(
    serious, owner, member, board, auditor, admin, outsider
):
    for reader in (owner, member, board, auditor, admin):
        answer = token_client(reader).get(url(serious))
        assert answer.status_code == 200, (reader.username, answer.content)
        assert answer.json()["incident"]["id"] == serious.pk
    refused = token_client(outsider).get(url(serious))
    assert refused.status_code == 404
    assert b"Applicants" not in refused.content
    assert token_client(outsider).get(url(serious), {"format": "pdf"}).status_code == 404
    assert APIClient().get(url(serious)).status_code == 401
    # an outsider's refusal leaves no download in the trail
    assert (
        AuditEvent.objects.filter(action="incident.report_exported", actor_username="oscar").count()
        == 0
    )


def test_the_json_follows_the_published_schema_and_holds_every_field(serious, auditor, settings):
    settings.GOVREG_PROVIDER_CONTACT = "AI compliance desk, compliance@example.com"
    published = APIClient().get("/api/schemas/serious-incident-report.json")
    assert published.status_code == 200
    assert published["Content-Type"] == "application/schema+json"
    assert published.json() == serious_report.report_schema()

    report = token_client(auditor).get(url(serious)).json()
    jsonschema.validate(report, published.json(), cls=jsonschema.Draft202012Validator)
    assert report["provider"] == {
        "name": "Example Credit B.V.",
        "contact_point": "AI compliance desk, compliance@example.com",
    }
    assert report["ai_system"]["name"] == "loan-default"
    assert report["ai_system"]["eu_database_id"] == "EUDB-HR-2026-000042"
    assert report["model_version"]["version"] == "2"
    assert report["deployment"]["environment"] == "production"
    assert report["deployment"]["id"] == serious.deployment_id
    assert report["incident"]["occurred_at"] == "2026-05-04T03:00:00Z"
    assert report["incident"]["occurred_at_source"] == "recorded"
    assert report["incident"]["aware_at"] == "2026-05-04T12:00:00Z"
    assert report["harm_category"] == {
        "code": "widespread",
        "label": "Widespread infringement",
        "reporting_period_days": 2,
    }
    assert report["affected"] == {"member_states": ["DE", "NL"], "persons": 412}
    assert report["causal_link"].startswith("A feature pipeline change")
    assert report["immediate_actions"].startswith("Rolled back to @1")
    assert report["other_regimes_notified"].startswith("Dutch DPA")
    assert report["reporting"] == {"deadline": "2026-05-06T12:00:00Z", "reported_at": None}
    # nothing from the review yet: the report says so with nulls, not invented text
    assert report["root_cause"] is None and report["review"] is None
    assert report["corrective_actions"] == []


def test_without_settings_or_records_the_fallbacks_and_nulls_show(model, deployment, owner):
    incident = incidents.open_incident(model=model, title="Odd declines", now=T0)
    incidents.mark_serious(incident, owner, category="serious", aware_at=AWARE, now=AWARE)
    report = token_client(owner).get(url(incident)).json()
    serious_report.validate_report(report)
    # no card provider, no GOVREG_PROVIDER_NAME; the card's contact stands in
    assert report["provider"] == {"name": None, "contact_point": "credit-risk@example.com"}
    assert report["ai_system"]["eu_database_id"] is None
    assert report["model_version"] is None and report["deployment"] is None
    assert report["incident"]["occurred_at"] == "2026-05-04T09:00:00Z"
    assert report["incident"]["occurred_at_source"] == "opened"
    assert report["affected"] == {"member_states": [], "persons": None}
    text = pdf_text(token_client(owner).get(url(incident), {"format": "pdf"}).content)
    assert "not recorded; when the incident was opened" in text
    assert "Corrective actions: not recorded." in text


def test_the_provider_name_setting_stands_in_for_an_empty_card(model, owner, settings):
    settings.GOVREG_PROVIDER_NAME = "Example Holding N.V."
    incident = incidents.open_incident(model=model, title="Odd declines", now=T0)
    incidents.mark_serious(incident, owner, category="death", aware_at=AWARE, now=AWARE)
    report = token_client(owner).get(url(incident)).json()
    assert report["provider"]["name"] == "Example Holding N.V."
    assert report["harm_category"]["reporting_period_days"] == 10


def test_the_pdf_holds_the_same_fields(serious, auditor, owner):
    complete_review(serious, owner)
    answer = token_client(auditor).get(url(serious), {"format": "pdf"})
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/pdf"
    assert (
        f'filename="incident-{serious.pk}-serious-report-complete.pdf"'
        in answer["Content-Disposition"]
    )
    text = pdf_text(answer.content)
    for expected in (
        f"Serious-incident report: incident #{serious.pk}",
        "EU AI Act Art. 73. Complete report.",
        "Example Credit B.V.",
        "credit-risk@example.com",
        "EUDB-HR-2026-000042",
        "loan-default",
        "2 (registered)",
        "production",
        "Applicants declined wrongly",
        "2026-05-04 03:00 UTC",  # the incident
        "2026-05-04 12:00 UTC",  # awareness
        "Widespread infringement (widespread)",
        "DE, NL",
        "412",
        "doubled the bureau score",
        "Rolled back to @1",
        "entered the features twice",
        "Check the feature list in CI",
        "olivia",
        "Dutch DPA",
        "2026-05-06 12:00 UTC",  # the deadline
    ):
        assert expected in text, expected


def test_initial_until_the_review_is_completed_then_complete(serious, owner):
    api = token_client(owner)
    assert api.get(url(serious)).json()["report_type"] == "initial"

    review = reviews.save_review(
        PostIncidentReview(incident=serious, root_cause="The bureau score entered twice.")
    )
    draft = api.get(url(serious)).json()
    assert draft["report_type"] == "initial"
    assert draft["report_type_basis"] == (
        "Initial report: the post-incident review is still a draft."
    )
    assert draft["root_cause"] == "The bureau score entered twice."
    assert draft["review"]["status"] == "draft"
    review.delete()

    complete_review(serious, owner)
    report = api.get(url(serious)).json()
    serious_report.validate_report(report)
    assert report["report_type"] == "complete"
    assert report["report_type_basis"] == (
        "Complete report: the post-incident review was completed on 2026-05-06 09:00 UTC."
    )
    assert report["root_cause"].startswith("The bureau score entered the features twice")
    assert report["corrective_actions"] == [
        {
            "title": "Check the feature list in CI",
            "description": "Fail a training run whose features changed without review.",
            "owner": "olivia",
            "due_date": "2026-05-18",
            "status": "open",
            "done_at": None,
        }
    ]
    assert report["review"]["lessons"].startswith("Diff the feature list")


def test_each_download_is_an_audit_event(serious, auditor):
    api = token_client(auditor)
    api.get(url(serious))
    api.get(url(serious), {"format": "pdf"})
    events = AuditEvent.objects.filter(
        action="incident.report_exported", object_id=str(serious.pk)
    ).order_by("seq")
    assert [(e.actor_username, e.after["format"], e.after["report_type"]) for e in events] == [
        ("audrey", "json", "initial"),
        ("audrey", "pdf", "initial"),
    ]
    assert events[0].object_type == "playbooks.incident"
    assert events[0].after["harm_category"] == "widespread"


def test_bad_input_and_an_incident_not_marked_serious(model, serious, owner):
    api = token_client(owner)
    bad = api.get(url(serious), {"format": "docx"})
    assert bad.status_code == 400
    assert "format" in bad.json()["fields"]
    plain = incidents.open_incident(model=model, title="A slow scorer", severity="low", now=T0)
    refused = api.get(url(plain))
    assert refused.status_code == 409
    assert list(refused.json()["fields"]) == ["serious_category"]
    assert not AuditEvent.objects.filter(
        action="incident.report_exported", object_id=str(plain.pk)
    ).exists()


def test_post_on_the_same_path_still_marks_the_report_sent(serious, owner):
    api = token_client(owner)
    sent = api.post(url(serious), {"reported_at": "2026-05-05T08:00:00Z"}, format="json")
    assert sent.status_code == 200, sent.json()
    assert sent.json()["reported_at"] == "2026-05-05T08:00:00Z"
    assert api.get(url(serious)).json()["reporting"]["reported_at"] == "2026-05-05T08:00:00Z"


def test_the_openapi_document_describes_both_methods(client):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    operations = paths["/api/incidents/{id}/report/"]
    assert operations["post"]["operationId"] == "incidents_report_create"
    assert operations["get"]["operationId"] == "incidents_report_retrieve"
    assert "application/pdf" in operations["get"]["responses"]["200"]["content"]
    assert [p["name"] for p in operations["get"]["parameters"] if p["in"] == "query"] == ["format"]
    assert "/api/schemas/serious-incident-report.json" in paths


def test_the_console_incident_page_links_the_report(serious, board):
    browser = Client()
    browser.force_login(board)
    page = browser.get(reverse("ui-incident-detail", args=[serious.pk]))
    assert page.status_code == 200
    assert f'href="/api/incidents/{serious.pk}/report?format=pdf"' in page.content.decode()
    assert browser.get(f"/api/incidents/{serious.pk}/report?format=pdf").status_code == 200


def test_a_complete_report_reads_a_bounded_number_of_queries(
    serious, owner, auditor, django_assert_max_num_queries
):
    complete_review(serious, owner)
    api = token_client(auditor)
    api.get(url(serious))  # the token's first use is written once
    with django_assert_max_num_queries(10):
        answer = api.get(url(serious))
    assert answer.status_code == 200
