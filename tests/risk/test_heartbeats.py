"""Heartbeats: a threshold that expects a reading every hour goes silent when its
monitor stops reporting, raises one questionable ``monitor-silent`` signal (and its
investigation task) per silence, and recovers when readings return."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from accounts.roles import Role
from audit.models import AuditEvent
from playbooks.models import InvestigationTask, Signal
from playbooks.tasks import detect_silent_monitors
from registry.models import Environment
from risk.models import Threshold
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.registry.shipping import ship
from tests.risk.factories import make_model, make_risk, make_version

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def pipeline(team):
    return UserFactory(username="ci-bot", groups=[team, Role.PIPELINE])


@pytest.fixture
def model(team):
    return make_model(team, name="chat-assistant")


@pytest.fixture
def deployment(model, owner):
    version = make_version(model)
    return ship(
        version, Environment.objects.get(name="production"), owner, now=T0 - timedelta(days=1)
    )


@pytest.fixture
def threshold(team, owner, deployment):
    risk = make_risk(team, owner, title="Refusals hide unanswered customers")
    item = Threshold(
        risk=risk,
        deployment=deployment,
        metric="refusal_rate",
        comparator="gt",
        warning_value=0.05,
        critical_value=0.10,
        expected_every=timedelta(hours=1),
        grace=timedelta(minutes=15),
    )
    item.full_clean()
    item.save()
    return item


def post_reading(client, value=0.02, at=None):
    body = {
        "metric": "refusal_rate",
        "value": value,
        "model": "chat-assistant",
        "environment": "production",
        "observed_at": (at or datetime.now(UTC)).isoformat(),
        "source": "evidently",
    }
    response = client.post("/api/signals/", body, format="json")
    assert response.status_code in (200, 201), response.content
    return response.json()


def silent_signals():
    return Signal.objects.filter(kind="monitor-silent")


@pytest.mark.django_db
def test_a_monitor_that_stops_reporting_raises_one_questionable_signal(pipeline, threshold):
    client = token_client(pipeline)
    with time_machine.travel(T0, tick=False):
        post_reading(client)
    threshold.refresh_from_db()
    assert threshold.last_reading_at == T0
    assert threshold.heartbeat_state(T0) == "up"

    # past the cadence, within the grace period: late, not silent
    with time_machine.travel(T0 + timedelta(minutes=70), tick=False):
        assert detect_silent_monitors() == []
        assert threshold.heartbeat_state() == "late"

    with time_machine.travel(T0 + timedelta(minutes=76), tick=False):
        raised = detect_silent_monitors()
        again = detect_silent_monitors()
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        later = detect_silent_monitors()

    assert len(raised) == 1 and again == [] and later == []
    signal = Signal.objects.get(pk=raised[0])
    assert (signal.kind, signal.source, signal.triage) == (
        "monitor-silent",
        "heartbeat",
        "questionable",
    )
    assert signal.threshold_id == threshold.pk
    assert signal.model.name == "chat-assistant" and signal.environment_name == "production"
    assert "has had none for 1\xa0hour, 16\xa0minutes" in signal.triage_reason
    task = signal.investigation_task
    assert task is not None and task.status == "open"
    assert task.title == "Investigate silent monitor refusal_rate on chat-assistant"
    threshold.refresh_from_db()
    assert threshold.silent_since == T0 + timedelta(minutes=76)
    assert threshold.last_reading_at == T0  # its own signal proves nothing
    assert AuditEvent.objects.filter(action="threshold.silent").count() == 1
    triaged = AuditEvent.objects.filter(action="signal.triage", object_id=str(signal.pk)).get()
    assert triaged.after["outcome"] == "questionable"

    # the API tells the team where the monitor stands
    body = client.get(f"/api/thresholds/{threshold.pk}/").json()
    assert body["heartbeat"] == "silent"
    assert (body["expected_every_minutes"], body["grace_minutes"]) == (60, 15)
    assert body["silent_since"].startswith("2026-06-01T10:16")


@pytest.mark.django_db
def test_readings_returning_recover_the_monitor_and_close_its_task(pipeline, threshold):
    client = token_client(pipeline)
    with time_machine.travel(T0, tick=False):
        post_reading(client)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        [first] = detect_silent_monitors()
    task = Signal.objects.get(pk=first).investigation_task

    back = T0 + timedelta(hours=3)
    with time_machine.travel(back, tick=False):
        post_reading(client, value=0.03)
        post_reading(client, value=0.04, at=back - timedelta(seconds=30))  # same batch later

    threshold.refresh_from_db()
    task.refresh_from_db()
    assert threshold.silent_since is None and threshold.last_reading_at == back
    assert threshold.heartbeat_state(back) == "up"
    assert task.status == "done" and "returned" in task.resolution
    recovered = AuditEvent.objects.get(action="threshold.recover")
    assert recovered.after["silent_for_seconds"] == 3600
    assert AuditEvent.objects.filter(action="investigation.close", object_id=str(task.pk)).exists()

    # a later silence is a new one: a new signal and a new task
    with time_machine.travel(back + timedelta(hours=2), tick=False):
        [second] = detect_silent_monitors()
    assert second != first
    assert Signal.objects.get(pk=second).investigation_task_id not in (None, task.pk)
    assert silent_signals().count() == 2


@pytest.mark.django_db
def test_a_threshold_without_a_cadence_or_a_first_reading_is_never_silent(pipeline, threshold):
    Threshold.objects.filter(pk=threshold.pk).update(expected_every=None)
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        assert detect_silent_monitors() == []
        threshold.refresh_from_db()
        assert threshold.heartbeat_state() == "off"
    Threshold.objects.filter(pk=threshold.pk).update(expected_every=timedelta(hours=1))
    threshold.refresh_from_db()
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        assert detect_silent_monitors() == []
        assert threshold.heartbeat_state() == "waiting"
    assert not silent_signals().exists()


@pytest.mark.django_db
def test_an_old_reading_replayed_late_does_not_keep_the_monitor_alive(pipeline, threshold):
    client = token_client(pipeline)
    with time_machine.travel(T0, tick=False):
        post_reading(client)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        post_reading(client, at=T0 - timedelta(hours=1))  # a backfill of older data
        assert len(detect_silent_monitors()) == 1
    threshold.refresh_from_db()
    assert threshold.last_reading_at == T0


@pytest.mark.django_db
def test_heartbeat_fields_through_the_api(pipeline, owner, threshold):
    client = token_client(owner)
    url = f"/api/thresholds/{threshold.pk}/"
    bad = client.patch(url, {"expected_every_minutes": 0}, format="json")
    assert bad.status_code == 400 and "expected_every_minutes" in bad.json()["fields"]
    negative = client.patch(url, {"grace_minutes": -5}, format="json")
    assert negative.status_code == 400 and "grace_minutes" in negative.json()["fields"]
    ok = client.patch(url, {"expected_every_minutes": 30, "grace_minutes": 5}, format="json")
    assert ok.status_code == 200, ok.content
    assert (ok.json()["expected_every_minutes"], ok.json()["grace_minutes"]) == (30, 5)
    threshold.refresh_from_db()
    assert threshold.expected_every == timedelta(minutes=30)
    change = AuditEvent.objects.filter(action="update", object_id=str(threshold.pk)).last()
    assert change is not None
    # the state is the server's to set, whatever a client sends
    client.patch(url, {"silent_since": "2026-01-01T00:00:00Z"}, format="json")
    threshold.refresh_from_db()
    assert threshold.silent_since is None
    outsider = UserFactory(username="nosy", groups=[Role.ML_ENGINEER])
    assert token_client(outsider).patch(url, {"grace_minutes": 1}, format="json").status_code == 404


def run_together(calls):
    """Each call in its own thread (its own database connection), all at once."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_beat_workers_at_once_raise_one_signal(pipeline, threshold):
    Threshold.objects.filter(pk=threshold.pk).update(last_reading_at=T0)
    moment = (T0 + timedelta(hours=2)).isoformat()
    results = run_together([lambda: detect_silent_monitors(moment) for _ in range(4)])

    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert silent_signals().count() == 1
    assert InvestigationTask.objects.count() == 1
    assert AuditEvent.objects.filter(action="threshold.silent").count() == 1


@pytest.mark.django_db
def test_the_demo_tells_of_a_monitor_gone_silent():
    from accounts import demo

    demo.run_all()
    demo.run_all()  # told again, it adds nothing
    [signal] = silent_signals()
    assert (signal.triage, signal.model.name) == ("questionable", "support-triage")
    assert signal.investigation_task.status == "open"
    threshold = Threshold.objects.get(metric="long_ticket_refusal_rate")
    assert threshold.heartbeat_state() == "silent"


@pytest.mark.django_db
def test_the_gauges_count_silent_monitors_and_risks_by_sufficiency(client, threshold):
    Threshold.objects.filter(pk=threshold.pk).update(last_reading_at=T0)
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        before = client.get("/metrics").content.decode()
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        detect_silent_monitors()
        after = client.get("/metrics").content.decode()
    assert "govreg_silent_monitors 0.0" in before
    assert 'govreg_risks_by_monitoring_sufficiency{sufficiency="partial"} 1.0' in before
    assert "govreg_silent_monitors 1.0" in after
    assert 'govreg_risks_by_monitoring_sufficiency{sufficiency="none"} 1.0' in after
    assert 'govreg_risks_by_monitoring_sufficiency{sufficiency="sufficient"} 0.0' in after
