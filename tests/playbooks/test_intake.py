"""Alert intake: repeated alerts, unlinked signals, malformed payloads, what the
sender may learn, plain JSON signals and the three triage outcomes."""

import copy

import pytest

from audit.models import AuditEvent
from playbooks.models import Incident, InvestigationTask, Signal
from tests.conftest import token_client
from tests.playbooks.conftest import alertmanager_payload, resolved

URL = "/api/signals/alertmanager"


@pytest.mark.django_db
def test_a_retried_payload_changes_nothing(pipeline, playbook):
    """Alertmanager retries a payload it got no 2xx for (and an HA pair may both send
    it): the same reading again stores nothing, writes no audit event, and answers
    with the signal stored the first time."""
    am = token_client(pipeline)
    payload = alertmanager_payload()
    first = am.post(URL, payload, format="json").json()
    events = AuditEvent.objects.count()
    again = am.post(URL, payload, format="json")
    third = am.post(URL, payload, format="json").json()

    assert again.status_code == 200
    assert (first["stored"], first["duplicates"]) == (1, 0)
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)
    assert again.json()["signals"][0] == {**first["signals"][0], "duplicate": True}
    assert third["signals"][0]["id"] == first["signals"][0]["id"]
    assert AuditEvent.objects.count() == events
    assert Signal.objects.count() == 1
    assert Incident.objects.count() == 1
    incident = Incident.objects.get()
    assert incident.timeline.filter(kind="signal").count() == 1
    assert incident.escalations.count() == 1


@pytest.mark.django_db
def test_the_same_alert_in_one_payload_twice_is_stored_once(pipeline, playbook):
    payload = alertmanager_payload()
    payload["alerts"].append(copy.deepcopy(payload["alerts"][0]))

    body = token_client(pipeline).post(URL, payload, format="json").json()

    assert (body["received"], body["stored"], body["duplicates"]) == (2, 1, 1)
    assert body["signals"][0]["id"] == body["signals"][1]["id"]
    assert [s["duplicate"] for s in body["signals"]] == [False, True]
    assert Signal.objects.count() == 1


@pytest.mark.django_db
def test_a_new_reading_of_a_firing_alert_joins_its_incident(pipeline, playbook):
    am = token_client(pipeline)
    first = am.post(URL, alertmanager_payload(), format="json").json()["signals"][0]
    higher = alertmanager_payload()
    higher["alerts"][0]["annotations"]["value"] = "0.42"

    again = am.post(URL, higher, format="json").json()["signals"][0]

    assert again["id"] != first["id"] and not again["duplicate"]
    assert again["incident"] == first["incident"]
    assert Incident.objects.count() == 1
    assert Incident.objects.get().timeline.filter(kind="signal").count() == 2


@pytest.mark.django_db
def test_an_alert_that_fires_again_joins_the_active_incident_until_it_is_resolved(
    pipeline, member, playbook
):
    """One rule for every intake: a reading joins the active incident of its model,
    environment and metric. A new firing (new startsAt) while the team still works on
    the incident joins it; once the team resolved it, a new firing opens a new one."""
    from playbooks.services import incidents

    am = token_client(pipeline)
    payload = alertmanager_payload()
    first = am.post(URL, payload, format="json").json()["signals"][0]["incident"]
    gone = am.post(URL, resolved(payload), format="json").json()["signals"][0]
    assert gone["triage"] == "resolved" and gone["incident"] == first

    refired = alertmanager_payload(starts_at="2026-05-04T11:30:00Z")
    assert am.post(URL, refired, format="json").json()["signals"][0]["incident"] == first

    incident = Incident.objects.get(pk=first)
    incidents.resolve(incidents.contain(incident, member), member)
    later = alertmanager_payload(starts_at="2026-05-04T14:00:00Z")
    second = am.post(URL, later, format="json").json()["signals"][0]["incident"]

    assert second not in (None, first)
    assert Incident.objects.count() == 2


@pytest.mark.django_db
def test_labels_that_match_no_model_are_stored_unlinked_with_2xx(pipeline, playbook):
    am = token_client(pipeline)
    answer = am.post(URL, alertmanager_payload(model="no-such-model"), format="json")

    assert answer.status_code == 200
    signal = Signal.objects.get(pk=answer.json()["signals"][0]["id"])
    assert signal.triage == "unlinked"
    assert signal.model is None
    assert signal.model_name == "no-such-model"
    assert signal.payload["fingerprint"] == "c6a2bd1f0e0a7d4b"
    assert Incident.objects.count() == 0
    receipt = AuditEvent.objects.get(object_type="playbooks.signal", action="signal.receive")
    assert receipt.after["ids"] == [signal.pk]
    assert receipt.after["stored"] == 1


@pytest.mark.django_db
def test_another_teams_model_reads_exactly_like_a_missing_one(
    other_pipeline, pipeline, playbook, auditor
):
    """A pipeline of another team names our model: stored unlinked, same answer shape
    as for a model that does not exist, nothing opened."""
    am = token_client(other_pipeline)
    ours = am.post(URL, alertmanager_payload(model="loan-default"), format="json")
    missing = am.post(URL, alertmanager_payload(model="no-such-model"), format="json")

    assert ours.status_code == missing.status_code == 200
    strip = lambda body: [{**s, "id": None} for s in body["signals"]]  # noqa: E731
    assert strip(ours.json()) == strip(missing.json())
    assert Incident.objects.count() == 0
    assert set(Signal.objects.values_list("triage", flat=True)) == {"unlinked"}
    # the other team's pipeline cannot list the unlinked signals either
    assert token_client(other_pipeline).get("/api/signals/").json()["count"] == 0
    # a global reader sees them, waiting to be mapped
    listed = token_client(auditor).get("/api/signals/?unlinked=true").json()
    assert listed["count"] == 2


@pytest.mark.django_db
def test_an_admin_maps_an_unlinked_signal_and_it_is_triaged(pipeline, playbook, team):
    from tests.factories import UserFactory

    admin = UserFactory(username="ada", groups=["admin", team])
    am = token_client(pipeline)
    sid = am.post(URL, alertmanager_payload(model="loan-default-v2-typo"), format="json").json()[
        "signals"
    ][0]["id"]

    answer = token_client(admin).post(
        f"/api/signals/{sid}/map",
        {"model": "loan-default", "environment": "production"},
        format="json",
    )

    assert answer.status_code == 200, answer.json()
    assert answer.json()["triage"] == "critical"
    assert answer.json()["incident"] is not None
    again = token_client(admin).post(
        f"/api/signals/{sid}/map", {"model": "loan-default"}, format="json"
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("alerts"), "alerts"),
        (lambda p: p["alerts"][0].pop("labels"), "alerts.0.labels"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts.0.startsAt"),
        (lambda p: p["alerts"][0].update(status="burning"), "alerts.0.status"),
        (lambda p: p.update(version="3"), "version"),
        (lambda p: p.update(alerts=[]), "alerts"),
    ],
)
@pytest.mark.django_db
def test_a_malformed_payload_is_a_4xx_naming_the_field(pipeline, playbook, mutate, field):
    payload = copy.deepcopy(alertmanager_payload())
    mutate(payload)

    answer = token_client(pipeline).post(URL, payload, format="json")

    assert answer.status_code == 400
    named = answer.json()["fields"]
    assert any(name == field or name.startswith(f"{field}.") for name in named), named
    assert Signal.objects.count() == 0


@pytest.mark.django_db
def test_not_json_at_all_is_a_400(pipeline):
    answer = token_client(pipeline).post(URL, "{not json", content_type="application/json")
    assert answer.status_code == 400


@pytest.mark.django_db
def test_intake_needs_the_pipeline_role(owner, playbook, client):
    assert (
        client.post(URL, alertmanager_payload(), content_type="application/json").status_code == 401
    )
    answer = token_client(owner).post(URL, alertmanager_payload(), format="json")
    assert answer.status_code == 403
    assert token_client(owner).post("/api/signals/", {}, format="json").status_code == 403


@pytest.mark.django_db
def test_plain_signal_triage_benign_questionable_critical(
    pipeline, owner, member, playbook, deployment, mailoutbox, django_capture_on_commit_callbacks
):
    api = token_client(pipeline)

    def send(value):
        body = {
            "metric": "psi",
            "value": value,
            "model": "loan-default",
            "environment": "production",
            "observed_at": "2026-05-04T09:00:00Z",
            "source": "evidently-nightly",
        }
        with django_capture_on_commit_callbacks(execute=True):
            answer = api.post("/api/signals/", body, format="json")
        assert answer.status_code == 201, answer.json()
        return answer.json()

    benign = send(0.05)
    assert benign["triage"] == "benign"
    assert benign["incident"] is None and benign["investigation_task"] is None
    assert mailoutbox == []

    questionable = send(0.18)
    assert questionable["triage"] == "questionable"
    task = InvestigationTask.objects.get(pk=questionable["investigation_task"])
    assert task.model.name == "loan-default"
    assert len(mailoutbox) == 1
    assert set(mailoutbox[0].to) == {owner.email, member.email}
    assert "Investigate" in mailoutbox[0].subject
    # a second questionable value joins the open task, no second mail
    assert send(0.2)["investigation_task"] == task.pk
    assert len(mailoutbox) == 1

    critical = send(0.4)
    assert critical["triage"] == "critical"
    incident = Incident.objects.get(pk=critical["incident"])
    signal = Signal.objects.get(pk=critical["id"])
    assert signal.sender == "evidently-nightly"
    assert signal.threshold_critical == 0.25
    assert signal.deployment == deployment
    # the same metric again, while the incident is active, joins it
    assert send(0.5)["incident"] == incident.pk
    assert Incident.objects.count() == 1
    decision = AuditEvent.objects.filter(action="signal.triage", object_id=str(signal.pk)).get()
    assert decision.after["outcome"] == "critical"
    assert decision.after["threshold"] == signal.threshold_id


@pytest.mark.django_db
def test_plain_signal_bad_fields_are_named(pipeline, playbook):
    answer = token_client(pipeline).post(
        "/api/signals/", {"metric": "psi", "value": "high", "model": "loan-default"}, format="json"
    )
    assert answer.status_code == 400
    assert "value" in answer.json()["fields"]


@pytest.mark.django_db
def test_alert_without_a_value_falls_back_to_its_severity_label(pipeline, playbook):
    payload = alertmanager_payload(metric="latency_p99", severity="warning")
    for place in (payload["commonAnnotations"], payload["alerts"][0]["annotations"]):
        place.pop("value")
    answer = token_client(pipeline).post(URL, payload, format="json").json()["signals"][0]
    assert answer["triage"] == "questionable"
    signal = Signal.objects.get(pk=answer["id"])
    assert signal.value is None
    assert "severity" in signal.triage_reason

    payload = alertmanager_payload(metric="latency_p99", severity="critical")
    payload["alerts"][0]["fingerprint"] = "0000aaaa0000bbbb"
    for place in (payload["commonAnnotations"], payload["alerts"][0]["annotations"]):
        place.pop("value")
    answer = token_client(pipeline).post(URL, payload, format="json").json()["signals"][0]
    assert answer["triage"] == "critical"
    assert answer["incident"] is not None


@pytest.mark.django_db
def test_a_playbook_can_mark_unthresholded_signals_critical(pipeline, playbook, owner):
    from playbooks.services.playbooks import save_playbook

    playbook.unthresholded_is_critical = True
    playbook.label_matchers = {"alertname": "ToxicOutputSpike"}
    save_playbook(playbook, user=owner)
    payload = alertmanager_payload(alertname="ToxicOutputSpike", metric="toxicity", severity="info")
    payload["alerts"][0]["fingerprint"] = "1111aaaa0000bbbb"

    answer = token_client(pipeline).post(URL, payload, format="json").json()["signals"][0]

    assert answer["triage"] == "critical"
    signal = Signal.objects.get(pk=answer["id"])
    assert signal.threshold is None
    assert "marks such signals critical" in signal.triage_reason
    assert signal.playbook_version.number == 2


@pytest.mark.django_db
def test_a_non_numeric_value_annotation_falls_back_and_nan_is_refused_in_plain_signals(
    pipeline, playbook
):
    payload = alertmanager_payload(severity="warning")
    payload["alerts"][0]["annotations"]["value"] = "NaN"
    payload["commonAnnotations"]["value"] = "n/a"
    answer = token_client(pipeline).post(URL, payload, format="json")
    assert answer.status_code == 200
    assert answer.json()["signals"][0]["triage"] == "questionable"
    assert Signal.objects.get().value is None

    plain = token_client(pipeline).post(
        "/api/signals/", {"metric": "psi", "value": "nan", "model": "loan-default"}, format="json"
    )
    assert plain.status_code == 400 and "value" in plain.json()["fields"]


@pytest.mark.django_db
def test_a_plain_signal_joins_the_open_incident_of_the_same_model_and_metric(
    pipeline, playbook, deployment
):
    """Issue #10 item 8: Alertmanager opened the incident; the same reading as a plain
    JSON signal (naming only the model and metric) is judged against the same
    threshold and joins that incident, as the alert itself would."""
    am = token_client(pipeline)
    opened = am.post(URL, alertmanager_payload(), format="json").json()["signals"][0]

    plain = am.post(
        "/api/signals/",
        {"metric": "psi", "value": 0.31, "model": "loan-default", "source": "evidently"},
        format="json",
    )

    assert plain.status_code == 201, plain.json()
    assert plain.json()["triage"] == "critical"
    assert plain.json()["incident"] == opened["incident"]
    signal = Signal.objects.get(pk=plain.json()["id"])
    assert signal.deployment == deployment  # the model's only live deployment
    assert signal.environment_name == "production"
    assert Incident.objects.count() == 1
    assert Incident.objects.get().timeline.filter(kind="signal").count() == 2


@pytest.mark.django_db
def test_an_alert_joins_the_incident_a_plain_signal_opened(pipeline, playbook):
    api = token_client(pipeline)
    body = {"metric": "psi", "value": 0.4, "model": "loan-default", "environment": "production"}
    opened = api.post("/api/signals/", body, format="json").json()

    alert = api.post(URL, alertmanager_payload(), format="json").json()["signals"][0]

    assert alert["triage"] == "critical"
    assert alert["incident"] == opened["incident"] is not None
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_a_plain_signal_with_its_observation_time_is_stored_once(pipeline, playbook):
    api = token_client(pipeline)
    body = {
        "metric": "psi",
        "value": 0.05,
        "model": "loan-default",
        "environment": "production",
        "observed_at": "2026-05-04T09:00:00.123456Z",
    }
    first = api.post("/api/signals/", body, format="json").json()
    assert Signal.objects.get(pk=first["id"]).observed_at.microsecond == 123456
    again = api.post("/api/signals/", body, format="json").json()
    untimed = {k: v for k, v in body.items() if k != "observed_at"}
    one = api.post("/api/signals/", untimed, format="json").json()
    two = api.post("/api/signals/", untimed, format="json").json()

    assert again == {**first, "duplicate": True}
    assert one["id"] != two["id"]  # without a time, two readings cannot be told apart
    assert Signal.objects.count() == 3
