"""The signed generic webhook: a monitoring product (a drift monitor) posts one JSON
reading signed with HMAC-SHA256 over "<timestamp>.<body>" with its source's secret.
Bad signatures, unknown sources and replays outside the window are 401; a good one
goes through the same triage, linking and deduplication as Alertmanager."""

import hashlib
import hmac
import json
import subprocess
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from audit.models import AuditEvent
from config.errors import Refused
from playbooks.models import Incident, Signal, WebhookSource
from playbooks.services import webhook_sources
from tests.factories import UserFactory

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
URL = "/api/signals/webhook/evidently-prod"


@pytest.fixture
def admin(db):
    return UserFactory(username="ada", groups=["admin"])


@pytest.fixture
def source(admin, team):
    issued = webhook_sources.create_source(name="evidently-prod", team=team, user=admin)
    return issued


def reading(value=0.31, **extra):
    return {
        "model": "loan-default",
        "metric": "psi",
        "value": value,
        "time": "2026-05-04T08:59:00Z",
        "labels": {"monitor": "evidently", "feature": "income"},
        "environment": "production",
        **extra,
    }


def send(body, secret, *, timestamp=None, url=URL, signature=None):
    raw = json.dumps(body).encode()
    stamp = str(int(timestamp if timestamp is not None else NOW.timestamp()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return Client().post(
        url,
        data=raw,
        content_type="application/json",
        HTTP_X_GOVREG_TIMESTAMP=stamp,
        HTTP_X_GOVREG_SIGNATURE=signature or f"sha256={mac}",
    )


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
def test_a_signed_critical_reading_opens_an_incident_and_a_retry_is_one_reading(
    source, playbook, threshold, deployment
):
    answer = send(reading(), source.secret)
    assert answer.status_code == 200, answer.json()
    outcome = answer.json()
    assert outcome["triage"] == "critical" and outcome["duplicate"] is False
    signal = Signal.objects.get(pk=outcome["id"])
    assert signal.source == "webhook" and signal.sender == "evidently-prod"
    assert signal.deployment == deployment and signal.threshold == threshold
    assert signal.submitted_by == source.source.sender
    incident = Incident.objects.get(pk=outcome["incident"])
    assert incident.status == "open"
    retry = send(reading(), source.secret).json()
    assert retry == {**outcome, "duplicate": True}
    assert Signal.objects.count() == 1
    receipt = AuditEvent.objects.get(action="signal.receive")
    assert receipt.actor_username == "webhook-evidently-prod"


@pytest.mark.django_db
def test_refusals_are_401_with_a_message_and_tell_nothing_of_sources(source, deployment):
    bad = send(reading(), "not-the-secret")
    unknown = send(reading(), source.secret, url="/api/signals/webhook/no-such-source")
    assert bad.status_code == unknown.status_code == 401
    assert bad.json() == unknown.json()
    assert bad.json()["message"] == "The signature does not verify for this source."
    stale = send(reading(), source.secret, timestamp=NOW.timestamp() - 301)
    assert stale.status_code == 401
    assert "GOVREG_SIGNALS_WEBHOOK_TOLERANCE_SECONDS" in stale.json()["message"]
    future = send(reading(), source.secret, timestamp=NOW.timestamp() + 301)
    assert future.status_code == 401
    assert send(reading(), source.secret, timestamp=NOW.timestamp() - 299).status_code == 200
    missing = Client().post(URL, data=b"{}", content_type="application/json")
    assert missing.status_code == 401 and "X-Govreg-Timestamp" in missing.json()["message"]
    # A forged signature is refused like a wrong secret.
    tampered = send(reading(value=0.01), source.secret, signature="sha256=" + "0" * 64)
    assert tampered.status_code == 401
    assert Signal.objects.count() == 1


@pytest.mark.django_db
def test_odd_header_bytes_are_401_not_500(source):
    for stamp, sig in (("\u00b2", "sha256=0"), ("9" * 5000, "sha256=0"), (None, "sha256=\u00e9")):
        headers = {"HTTP_X_GOVREG_SIGNATURE": sig,
                   "HTTP_X_GOVREG_TIMESTAMP": stamp or str(int(NOW.timestamp()))}  # fmt: skip
        answer = Client().post(URL, data=b"{}", content_type="application/json", **headers)
        assert answer.status_code == 401, (stamp, sig)
        assert answer.json()["message"]


@pytest.mark.django_db
def test_a_verified_body_that_cannot_be_read_names_the_field(source, deployment):
    answer = send({"model": "loan-default", "metric": "psi", "value": "x"}, source.secret)
    assert answer.status_code == 400
    assert set(answer.json()["fields"]) == {"value", "time"}


@pytest.mark.django_db
def test_the_source_team_bounds_what_it_links_to(admin, other_team, deployment):
    other = webhook_sources.create_source(name="fraud-monitor", team=other_team, user=admin)
    answer = send(reading(), other.secret, url="/api/signals/webhook/fraud-monitor")
    assert answer.status_code == 200
    assert answer.json()["triage"] == "unlinked"  # loan-default is not fraud's model


@pytest.mark.django_db
def test_only_admins_create_and_rotate_and_the_secret_is_stored_encrypted(
    admin, owner, team, source, deployment
):
    with pytest.raises(Refused):
        webhook_sources.create_source(name="mine", team=team, user=owner)
    stored = WebhookSource.objects.get(name="evidently-prod")
    assert source.secret not in stored.secret_encrypted
    assert webhook_sources.decrypt(stored.secret_encrypted) == source.secret
    rotated = webhook_sources.rotate_secret(stored, admin)
    assert send(reading(), source.secret).status_code == 401  # the old one stops at once
    assert send(reading(), rotated.secret).status_code == 200
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"webhook_source.created", "webhook_source.secret_rotated"} <= actions
    stored.active = False
    stored.save()
    assert send(reading(value=0.5), rotated.secret).status_code == 401


@pytest.mark.django_db
def test_openssl_computes_the_same_signature(source):
    """The README's recipe: ``openssl dgst -sha256 -hmac`` over "<timestamp>.<body>"."""
    body = json.dumps(reading()).encode()
    stamp = "1777885140"
    printed = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", source.secret, "-r"],
        input=stamp.encode() + b"." + body,
        capture_output=True,
        check=True,
    ).stdout.split()[0]
    assert webhook_sources.signature(source.secret, stamp, body) == "sha256=" + printed.decode()


@pytest.mark.django_db
def test_an_admin_creates_a_source_in_the_admin_and_sees_its_secret_once(client, team, admin):
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    page = client.post(
        "/admin/playbooks/webhooksource/add/",
        {"name": "whylabs", "team": team.pk, "description": "WhyLabs drift", "active": "on"},
    )
    assert page.status_code == 200, page.content
    source = WebhookSource.objects.get(name="whylabs")
    secret = webhook_sources.decrypt(source.secret_encrypted)
    assert secret.encode() in page.content
    assert b"/api/signals/webhook/whylabs" in page.content
    change = client.get(f"/admin/playbooks/webhooksource/{source.pk}/change/")
    assert change.status_code == 200 and secret.encode() not in change.content
    rotated = client.post(
        "/admin/playbooks/webhooksource/",
        {"action": "rotate_secret", "_selected_action": [source.pk]},
    )
    source.refresh_from_db()
    new_secret = webhook_sources.decrypt(source.secret_encrypted)
    assert new_secret != secret and new_secret.encode() in rotated.content
    assert source.sender.groups.get() == team  # a member of its team only
    assert not source.sender.has_usable_password()
