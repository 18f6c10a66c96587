"""The demo's public card and feedback chapters: loan-default's card is public with
the drift incident's notice, and an applicant's report through the card's form opened
an incident that the team contained and answered."""

import pytest
from django.test import Client

from accounts import demo as accounts_demo
from playbooks.demo_public import DEMO_FEEDBACK_TEXT
from playbooks.models import FeedbackReport
from registry.choices import CardStatus
from registry.models import PublicCard

pytestmark = pytest.mark.django_db


def test_the_public_card_and_the_feedback_that_opened_an_incident():
    accounts_demo.run_all()
    card = PublicCard.objects.get(model__name="loan-default")
    assert card.status == CardStatus.PUBLISHED
    assert card.requested_by.username == "engineer"
    assert [a["approver"] for a in card.approvals] == ["approver"]
    page = Client().get("/cards/loan-default").content.decode()
    assert "Loan decisions after a change in credit bureau data" in page
    assert "Tell the team" in page

    report = FeedbackReport.objects.get(text=DEMO_FEEDBACK_TEXT)
    assert report.channel == "public-form" and report.submitted_by is None
    assert report.signal.triage == "critical"
    incident = report.signal.incident
    assert incident.model.name == "loan-default" and incident.status == "resolved"
    assert incident.deployment == report.deployment
    assert report.model_version == report.deployment.model_version
    assert report.status == "answered" and "approved it" in report.public_reply
    # run twice: nothing more
    accounts_demo.run_all()
    assert FeedbackReport.objects.filter(text=DEMO_FEEDBACK_TEXT).count() == 1
