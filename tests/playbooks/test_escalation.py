"""Escalation: a level that stays silent past its minutes hands over to the next
level, exactly once, even when the beat task runs twice or two workers race; the
outgoing webhook is signed so a receiver can check it."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.db import connection

from playbooks.models import Escalation, Incident
from playbooks.services import escalation, incidents
from playbooks.services.playbooks import latest_version
from playbooks.tasks import escalate_incidents
from tests.playbooks.conftest import T0


def open_at(model, playbook, when):
    return incidents.open_incident(
        model=model,
        title="PSI critical on loan-default",
        playbook_version=latest_version(playbook),
        environment_name="production",
        now=when,
    )


def level_two_mails(lead):
    return [m for m in mail.outbox if lead.email in m.to]


@pytest.mark.django_db
def test_silent_level_one_escalates_to_level_two_exactly_once(
    model, playbook, owner, member, lead, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_at(model, playbook, T0)
    assert incident.escalation_level == 1
    assert {m for msg in mail.outbox for m in msg.to} == {owner.email, member.email}

    with django_capture_on_commit_callbacks(execute=True):
        assert escalation.escalate_due(now=T0 + timedelta(minutes=14)) == []
    assert level_two_mails(lead) == []

    with django_capture_on_commit_callbacks(execute=True):
        done = escalation.escalate_due(now=T0 + timedelta(minutes=15, seconds=1))
        again = escalation.escalate_due(now=T0 + timedelta(minutes=16))
        task_result = escalate_incidents.delay(now=(T0 + timedelta(minutes=17)).isoformat()).get()

    assert [e.level for e in done] == [2]
    assert again == [] and task_result == []
    incident.refresh_from_db()
    assert incident.escalation_level == 2
    assert incident.level_started_at == T0 + timedelta(minutes=15, seconds=1)
    assert list(incident.escalations.values_list("level", "group_name")) == [
        (1, "credit-risk"),
        (2, "oncall-leads"),
    ]
    assert len(level_two_mails(lead)) == 1
    assert "Escalation level 2" in level_two_mails(lead)[0].subject
    assert incident.timeline.filter(kind="escalation").count() == 2

    # the chain has two levels: nothing past the last one
    with django_capture_on_commit_callbacks(execute=True):
        assert escalation.escalate_due(now=T0 + timedelta(hours=5)) == []


@pytest.mark.django_db
def test_an_acknowledged_incident_does_not_escalate(model, playbook, member, lead):
    incident = open_at(model, playbook, T0)
    incidents.acknowledge(incident, member, now=T0 + timedelta(minutes=5))
    assert escalation.escalate_due(now=T0 + timedelta(hours=1)) == []
    assert Escalation.objects.filter(incident=incident).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_escalate_once(model, playbook, lead):
    incident = open_at(model, playbook, T0)
    mail.outbox.clear()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            outcome = escalate_incidents.apply(
                kwargs={"now": (T0 + timedelta(minutes=20)).isoformat()}
            )
            assert outcome.successful(), outcome.traceback
            results.append(outcome.result)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(len(r) for r in results) == [0, 1]
    assert Escalation.objects.filter(incident=incident, level=2).count() == 1
    assert Incident.objects.get(pk=incident.pk).escalation_level == 2
    assert len(level_two_mails(lead)) == 1


class _Receiver(BaseHTTPRequestHandler):
    """A webhook receiver as a customer would write it: check the HMAC of the raw body."""

    secret = b""
    received: list = []
    fail_first = 0

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, self.headers.get("X-Govreg-Signature", ""))
        type(self).received.append(
            {
                "valid": valid,
                "timestamp": self.headers.get("X-Govreg-Timestamp"),
                "event": self.headers.get("X-Govreg-Event"),
                "body": json.loads(body),
            }
        )
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
        else:
            self.send_response(204 if valid else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.GOVREG_WEBHOOK_SECRET = "whsec-test-3f9a"
    _Receiver.secret = settings.GOVREG_WEBHOOK_SECRET.encode()
    _Receiver.received = []
    _Receiver.fail_first = 0
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.GOVREG_ESCALATION_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hooks/govreg"
    yield _Receiver
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_the_escalation_webhook_is_signed_and_verifiable(
    model, playbook, lead, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_at(model, playbook, T0)
        escalation.escalate_due(now=T0 + timedelta(minutes=16))

    assert [r["valid"] for r in receiver.received] == [True, True]
    last = receiver.received[-1]
    assert last["event"] == "incident.escalated"
    assert int(last["timestamp"]) == last["body"]["sent_at"]
    assert last["body"]["incident"]["id"] == incident.pk
    assert last["body"]["escalation"]["level"] == 2
    assert last["body"]["escalation"]["group"] == "oncall-leads"
    row = Escalation.objects.get(incident=incident, level=2)
    assert row.webhook_state == "delivered"
    assert row.webhook_attempts == 1


@pytest.mark.django_db
def test_a_failing_receiver_is_retried_until_it_answers(
    model, playbook, receiver, django_capture_on_commit_callbacks
):
    receiver.fail_first = 2
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_at(model, playbook, T0)

    row = Escalation.objects.get(incident=incident, level=1)
    assert row.webhook_state == "delivered"
    assert row.webhook_attempts == 3
    assert len(receiver.received) == 3
    # the signature is made fresh for each attempt and always checks out
    assert all(r["valid"] for r in receiver.received)


@pytest.mark.django_db
def test_a_tampered_body_fails_the_receivers_check(settings):
    from playbooks.webhooks import encode, sign, verify

    settings.GOVREG_WEBHOOK_SECRET = "s3cret"
    body = encode({"incident": {"id": 1}})
    signature = sign(body, "s3cret")
    assert verify(body, signature, "s3cret")
    assert not verify(body.replace(b"1", b"2"), signature, "s3cret")
    assert not verify(body, signature, "other")


@pytest.mark.django_db
def test_a_receiver_that_never_answers_leaves_the_escalation_marked_failed(
    model, playbook, receiver, django_capture_on_commit_callbacks
):
    receiver.fail_first = 100
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_at(model, playbook, T0)

    row = Escalation.objects.get(incident=incident, level=1)
    assert row.webhook_state == "failed"
    assert row.webhook_attempts == 6  # the first try and five retries
    assert "503" in row.webhook_last_error
    assert row.emailed_at is not None  # the mail went out regardless
