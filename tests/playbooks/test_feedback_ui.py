"""The console's feedback reports through Django's test client: another team's report
is a 404, the text is escaped, the reply and the status change go through the services
(audited, CSRF-protected), a reader who may not answer is told so, and the list and a
report read the database as often for 3 reports as for 300."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from audit.models import AuditEvent
from playbooks.choices import FeedbackChannel
from playbooks.models import FeedbackReport
from playbooks.services import feedback
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def client_of(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def reports(model, production, count, *, text="The score looks off for my postcode."):
    return [
        feedback.submit(
            model, production, text=text, category="concern", channel=FeedbackChannel.API
        ).report
        for _ in range(count)
    ]


@pytest.fixture
def report(model, production, deployment):
    (one,) = reports(model, production, 1, text="<script>alert(1)</script> scores are off")
    return one


def detail(report):
    return reverse("ui-feedback-detail", args=[report.pk])


def test_the_list_and_the_report_show_what_arrived(report, owner):
    client = client_of(owner)
    page = client.get(reverse("ui-feedback-list")).content.decode()
    assert report.reference in page and "loan-default" in page and "production" in page
    assert report.model_version.version in page
    body = client.get(detail(report)).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; scores are off" in body
    assert "<script>alert(1)</script>" not in body
    assert f"/api/signals/{report.signal_id}/" in body
    assert 'action="' + reverse("ui-feedback-reply", args=[report.pk]) + '"' in body


def test_another_teams_report_is_a_404(report, outsider):
    client = client_of(outsider)
    assert client.get(detail(report)).status_code == 404
    url = reverse("ui-feedback-reply", args=[report.pk])
    assert client.post(url, {"reply": "mine"}).status_code == 404
    assert report.reference not in client.get(reverse("ui-feedback-list")).content.decode()
    report.refresh_from_db()
    assert report.public_reply == ""


def test_the_team_replies_and_changes_the_status_audited(report, owner):
    client = client_of(owner, enforce_csrf_checks=True)
    token = client.get(detail(report)).context["csrf_token"]
    url = reverse("ui-feedback-reply", args=[report.pk])
    assert client.post(url, {"reply": "We are looking."}).status_code == 403  # no CSRF token
    response = client.post(
        url, {"reply": "We are looking.", "status": "under-review", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and response["Location"] == detail(report)
    report.refresh_from_db()
    assert (report.public_reply, report.status, report.replied_by) == (
        "We are looking.",
        "under-review",
        owner,
    )
    status_url = reverse("ui-feedback-status", args=[report.pk])
    client.post(status_url, {"status": "closed", "csrfmiddlewaretoken": token})
    report.refresh_from_db()
    assert report.status == "closed"
    actions = AuditEvent.objects.filter(
        object_type="playbooks.feedbackreport", object_id=str(report.pk)
    ).values_list("action", flat=True)
    assert {"feedback.reply", "feedback.status"} <= set(actions)
    # a closed report stays closed: the service's refusal comes back as a message
    page = client.post(
        status_url, {"status": "received", "csrfmiddlewaretoken": token}, follow=True
    )
    assert "This report is closed." in page.content.decode()
    report.refresh_from_db()
    assert report.status == "closed"


def test_bad_input_comes_back_as_a_message(report, owner):
    client = client_of(owner)
    page = client.post(
        reverse("ui-feedback-reply", args=[report.pk]), {"reply": "  "}, follow=True
    ).content.decode()
    assert "Write the reply the reporter will read." in page
    page = client.post(
        reverse("ui-feedback-status", args=[report.pk]), {"status": "gone"}, follow=True
    ).content.decode()
    assert "no such status" in page
    report.refresh_from_db()
    assert report.status == "received" and report.public_reply == ""


def test_a_reader_who_may_not_answer_is_told_so(report):
    board = UserFactory(username="bea", groups=[Role.BOARD])
    client = client_of(board)
    body = client.get(detail(report)).content.decode()
    assert report.reference in body and "Publish reply" not in body
    page = client.post(
        reverse("ui-feedback-reply", args=[report.pk]), {"reply": "board says"}, follow=True
    ).content.decode()
    assert "Only the model&#x27;s team answers its feedback." in page
    report.refresh_from_db()
    assert report.public_reply == ""


def _bounded(client, url, grow, django_assert_max_num_queries):
    client.get(url)
    with CaptureQueriesContext(connection) as three:
        assert client.get(url).status_code == 200
    grow()
    with django_assert_max_num_queries(len(three.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_list_reads_as_often_for_3_and_300_reports(
    model, production, deployment, owner, django_assert_max_num_queries
):
    reports(model, production, 3)
    page = _bounded(
        client_of(owner),
        reverse("ui-feedback-list"),
        lambda: reports(model, production, 297),
        django_assert_max_num_queries,
    )
    assert FeedbackReport.objects.count() == 300
    assert page.count("FB-") >= 50


def test_a_report_reads_as_often_with_3_and_300_other_reports(
    report, model, production, owner, django_assert_max_num_queries
):
    reports(model, production, 2)
    _bounded(
        client_of(owner),
        detail(report),
        lambda: reports(model, production, 297),
        django_assert_max_num_queries,
    )
