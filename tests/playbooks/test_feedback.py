"""Feedback through the real API and the public form: a report keeps the version that
served when it arrived (from the deployment history), enters triage as a feedback
signal (questionable by default, critical by keyword or by the operator's flag, then
opening or joining an incident), gives its reporter a status URL, and the model's team
answers it. Every change is an audit event; other teams see nothing."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from audit.models import AuditEvent
from playbooks.choices import SignalKind, SignalSource, TaskStatus, Triage
from playbooks.models import FeedbackReport, Incident, InvestigationTask, Signal
from playbooks.services.feedback import token_hash
from registry import cards
from tests.factories import UserFactory
from tests.playbooks.conftest import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def approver(team):
    return UserFactory(username="april", groups=[team, Role.APPROVER])


@pytest.fixture
def operator(team):
    """An integrated product's service account: the pipeline role in the team."""
    return UserFactory(username="loan-portal", groups=[team, Role.PIPELINE])


@pytest.fixture
def published(model, owner, approver):
    cards.request_publication(
        model, owner, {"intended_use": True, "known_limitations": True}, now=T0
    )
    return cards.approve_publication(model, approver, now=T0)


def send(client, name="loan-default", **body):
    body = {"environment": "production", "text": "It declined me twice.", **body}
    return client.post(f"/api/models/{name}/feedback", body, format="json")


def test_a_report_keeps_the_version_that_served_when_it_arrived(
    client_for, operator, v1, v2, deployment, production
):
    client = client_for(operator)
    # v1 served from T0-20d to T0-2d; v2 since. A report dated T0-5d names v1.
    with time_machine.travel(T0 - timedelta(days=5), tick=False):
        before = send(client, text="Scores look odd; the app says version 2.")
    with time_machine.travel(T0, tick=False):
        now = send(client)
    assert before.status_code == 201, before.json()
    assert before.json()["version"] == "1"
    assert now.json()["version"] == "2"
    assert now.json()["deployment"] == deployment.pk
    report = FeedbackReport.objects.get(pk=now.json()["id"])
    assert report.model_version == v2 and report.environment == production


def test_a_plain_report_is_questionable_and_asks_for_an_investigation(
    client_for, operator, deployment
):
    with time_machine.travel(T0, tick=False):
        answer = send(client_for(operator), text="The reasons shown are hard to read.")
    body = answer.json()
    assert answer.status_code == 201
    assert body["reference"] == f"FB-{body['id']:06d}"
    assert body["triage"] == Triage.QUESTIONABLE
    assert body["incident"] is None
    task = InvestigationTask.objects.get(pk=body["investigation_task"])
    assert task.status == TaskStatus.OPEN and task.model.name == "loan-default"
    signal = Signal.objects.get(pk=body["signal"])
    assert (signal.kind, signal.source) == (SignalKind.FEEDBACK, SignalSource.FEEDBACK)
    assert signal.deployment == deployment
    assert "no critical keyword" in signal.triage_reason


def test_a_keyword_makes_it_critical_and_a_second_report_joins_the_incident(
    client_for, operator, deployment
):
    client = client_for(operator)
    with time_machine.travel(T0, tick=False):
        first = send(client, text="The decision caused real HARM to my family.")
        second = send(client, text="Another case of harm here.", category="bug")
    assert first.json()["triage"] == Triage.CRITICAL
    incident = Incident.objects.get(pk=first.json()["incident"])
    assert incident.model.name == "loan-default"
    assert incident.deployment == deployment
    assert "keyword 'harm'" in Signal.objects.get(pk=first.json()["signal"]).triage_reason
    assert second.json()["incident"] == incident.pk
    assert Incident.objects.count() == 1


def test_an_operator_may_flag_a_report_critical(client_for, operator, deployment):
    with time_machine.travel(T0, tick=False):
        answer = send(client_for(operator), text="Stop it, please.", critical=True)
    assert answer.json()["flagged_critical"] is True
    assert answer.json()["triage"] == Triage.CRITICAL
    assert answer.json()["incident"] is not None


def test_the_status_url_holds_a_token_only_its_hash_is_stored(client_for, operator, deployment):
    with time_machine.travel(T0, tick=False):
        body = send(client_for(operator)).json()
    token = body["status_url"].rsplit("/", 1)[1]
    assert len(token) >= 40
    report = FeedbackReport.objects.get(pk=body["id"])
    assert report.status_token_hash == token_hash(token)
    assert token not in str(list(FeedbackReport.objects.values()))
    page = Client().get(reverse("feedback-status", kwargs={"token": token}))
    assert page.status_code == 200
    assert body["reference"] in page.content.decode()
    assert (
        Client().get(reverse("feedback-status", kwargs={"token": token[:-1] + "x"})).status_code
        == 404
    )


def test_the_team_replies_and_the_reporter_reads_it(client_for, operator, owner, deployment):
    with time_machine.travel(T0, tick=False):
        body = send(client_for(operator)).json()
    team = client_for(owner)
    reply = team.post(
        f"/api/feedback/{body['id']}/reply",
        {"reply": "We checked: <b>your</b> application was scored correctly."},
        format="json",
    )
    assert reply.status_code == 200, reply.json()
    assert reply.json()["status"] == "answered"
    page = Client().get(body["status_url"].split("testserver", 1)[1]).content.decode()
    assert "&lt;b&gt;your&lt;/b&gt;" in page and "<b>your</b>" not in page
    assert "Answered" in page
    closed = team.post(f"/api/feedback/{body['id']}/status", {"status": "closed"}, format="json")
    assert closed.json()["status"] == "closed"
    again = team.post(f"/api/feedback/{body['id']}/status", {"status": "received"}, format="json")
    assert again.status_code == 409
    actions = set(
        AuditEvent.objects.filter(object_type="playbooks.feedbackreport").values_list(
            "action", flat=True
        )
    )
    assert {"create", "feedback.reply", "feedback.status"} <= actions


def test_other_teams_neither_send_nor_read_nor_answer(
    client_for, operator, outsider, auditor, deployment
):
    with time_machine.travel(T0, tick=False):
        body = send(client_for(operator)).json()
    stranger = client_for(outsider)
    assert send(stranger).status_code == 404
    assert stranger.get("/api/feedback/").json()["count"] == 0
    assert stranger.get(f"/api/feedback/{body['id']}").status_code == 404
    answer = stranger.post(f"/api/feedback/{body['id']}/reply", {"reply": "x"}, format="json")
    assert answer.status_code == 404
    reader = client_for(auditor)
    assert reader.get(f"/api/feedback/{body['id']}").status_code == 200
    refused = reader.post(f"/api/feedback/{body['id']}/reply", {"reply": "x"}, format="json")
    assert refused.status_code == 403
    assert Client().post("/api/models/loan-default/feedback", {}).status_code == 401


def test_bad_input_is_a_400_naming_the_field(client_for, operator, deployment, settings):
    settings.GOVREG_FEEDBACK_MAX_CHARS = 30
    client = client_for(operator)
    long = send(client, text="x" * 31)
    assert long.status_code == 400 and "text" in long.json()["fields"]
    assert send(client, environment="moon").json()["fields"]["environment"]
    assert "category" in send(client, category="rant").json()["fields"]
    assert FeedbackReport.objects.count() == 0


def test_reports_are_rate_limited_per_address(client_for, operator, deployment, settings):
    settings.GOVREG_RATE_LIMITS = {**settings.GOVREG_RATE_LIMITS, "feedback": "2/hour"}
    cache.clear()
    client = client_for(operator)
    with time_machine.travel(T0, tick=False):
        codes = [send(client).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert FeedbackReport.objects.count() == 2


def test_the_list_reads_a_bounded_number_of_queries(
    client_for, operator, owner, deployment, django_assert_max_num_queries
):
    client = client_for(operator)
    with time_machine.travel(T0, tick=False):
        for index in range(5):
            send(client, text=f"report {index}")
    team = client_for(owner)
    with django_assert_max_num_queries(8):
        answer = team.get("/api/feedback/")
    assert answer.json()["count"] == 5


# --- the public form ------------------------------------------------------------------


def public_form(client, name="loan-default"):
    page = client.get(f"/cards/{name}")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    return page, token.group(1) if token else None


def test_the_public_form_sends_an_anonymous_report(published, deployment):
    browser = Client(enforce_csrf_checks=True)
    page, csrf = public_form(browser)
    assert page.status_code == 200 and csrf
    with time_machine.travel(T0, tick=False):
        sent = browser.post(
            "/cards/loan-default/feedback",
            {"csrfmiddlewaretoken": csrf, "category": "concern", "text": "<script>x</script>"},
        )
    assert sent.status_code == 302
    assert sent["Location"].startswith("/feedback/") and sent["Location"].endswith("?sent=1")
    report = FeedbackReport.objects.get()
    assert report.submitted_by is None and report.channel == "public-form"
    assert report.model_version.version == "2"
    status = browser.get(sent["Location"])
    html = status.content.decode()
    assert report.reference in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x</script>" not in html
    assert status["Cache-Control"] == "no-store"
    assert status["Referrer-Policy"] == "no-referrer"


def test_the_public_form_needs_its_csrf_token(published, deployment):
    browser = Client(enforce_csrf_checks=True)
    answer = browser.post("/cards/loan-default/feedback", {"text": "hello"})
    assert answer.status_code == 403
    assert FeedbackReport.objects.count() == 0


def test_the_honeypot_and_bad_input_store_nothing(published, deployment, settings):
    settings.GOVREG_FEEDBACK_MAX_CHARS = 30
    browser = Client()
    bot = browser.post(
        "/cards/loan-default/feedback", {"text": "buy now", "website": "spam.example"}
    )
    assert bot.status_code == 400
    empty = browser.post("/cards/loan-default/feedback", {"text": "   "})
    assert empty.status_code == 400 and "Say what happened." in empty.content.decode()
    long = browser.post("/cards/loan-default/feedback", {"text": "y" * 31})
    assert long.status_code == 400
    huge = browser.post("/cards/loan-default/feedback", {"text": "z" * 100_000})
    assert huge.status_code == 413
    assert FeedbackReport.objects.count() == 0


def test_the_public_form_is_rate_limited_per_address(published, deployment, settings):
    settings.GOVREG_RATE_LIMITS = {**settings.GOVREG_RATE_LIMITS, "feedback": "1/hour"}
    cache.clear()
    browser = Client()
    first = browser.post("/cards/loan-default/feedback", {"text": "one"})
    second = browser.post("/cards/loan-default/feedback", {"text": "two"})
    assert (first.status_code, second.status_code) == (302, 429)
    assert int(second["Retry-After"]) > 0


def test_no_form_for_a_model_without_a_public_card(model, deployment):
    assert Client().post("/cards/loan-default/feedback", {"text": "hi"}).status_code == 404
    assert FeedbackReport.objects.count() == 0
