"""The Art. 73 reporting clock is enforced: a serious incident closes only once its
report is recorded as sent or someone with the right determines it not reportable;
its deadline never moves later by itself; a report cannot predate awareness or lie
in the future; an overdue report is flagged, counted and escalated through the
playbook's chain, once."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent
from playbooks.models import Escalation, Incident
from playbooks.services import escalation, incidents
from playbooks.services.playbooks import latest_version
from playbooks.tasks import regulatory_deadline_warnings
from registry.models import DecisionRight
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.playbooks.conftest import T0
from tests.playbooks.test_escalation import receiver  # noqa: F401 - fixture


@pytest.fixture
def incident(model):
    # high, not critical: no post-incident review stands between resolved and closed
    return incidents.open_incident(model=model, title="Wrongful declines", severity="high", now=T0)


@pytest.fixture
def approver(team):
    """An approver of the owning team: the team holds the approve right on its models."""
    return UserFactory(username="april", groups=[team, "approver"])


def resolved(incident, user):
    incidents.contain(incident, user, now=T0 + timedelta(hours=1))
    return incidents.resolve(incident, user, now=T0 + timedelta(hours=2))


def audit(action, incident):
    return AuditEvent.objects.filter(action=action, object_id=str(incident.pk))


def recent():
    """An awareness moment whose 15-day deadline is still ahead of the real clock."""
    return timezone.now() - timedelta(hours=1)


# --- closing needs the report or a not-reportable determination ---------------------


@pytest.mark.django_db
def test_a_serious_incident_does_not_close_before_its_report_is_recorded(incident, member):
    api = token_client(member)
    incidents.mark_serious(incident, member, category="serious", aware_at=recent())
    resolved(incident, member)

    refused = api.post(f"/api/incidents/{incident.pk}/close", {}, format="json")
    assert refused.status_code == 409, refused.json()
    assert list(refused.json()["fields"]) == ["reported_at"]
    assert "not-reportable" in refused.json()["message"]
    assert Incident.objects.get(pk=incident.pk).status == "resolved"

    reported = api.post(f"/api/incidents/{incident.pk}/report", {}, format="json")
    assert reported.status_code == 200, reported.json()
    assert audit("incident.report", incident).exists()
    closed = api.post(f"/api/incidents/{incident.pk}/close", {}, format="json")
    assert closed.status_code == 200, closed.json()
    assert closed.json()["status"] == "closed"


@pytest.mark.django_db
def test_a_not_reportable_determination_needs_a_reason_and_the_decision_right(
    incident, member, approver
):
    incidents.mark_serious(incident, member, category="serious", aware_at=recent())
    resolved(incident, member)
    url = f"/api/incidents/{incident.pk}/not-reportable"

    silent = token_client(approver).post(url, {"reason": "  "}, format="json")
    assert silent.status_code == 400
    assert "reason" in silent.json()["fields"]

    plain_member = token_client(member).post(url, {"reason": "not our call"}, format="json")
    assert plain_member.status_code == 403
    assert "change-report-deadline" in plain_member.json()["message"]
    assert "approver role" in plain_member.json()["message"]
    assert Incident.objects.get(pk=incident.pk).not_reportable_at is None

    reason = "Declines were reversed within the hour; no harm under Art. 3(49)."
    decided = token_client(approver).post(url, {"reason": reason}, format="json")
    assert decided.status_code == 200, decided.json()
    body = decided.json()
    assert body["not_reportable_by"] == "april"
    assert body["not_reportable_reason"] == reason
    assert body["not_reportable_at"] is not None
    assert body["report_deadline"] is not None  # the deadline it had stays on record
    assert body["report_overdue"] is False
    assert any(
        e["kind"] == "regulatory" and "not reportable by april" in e["message"]
        for e in body["timeline"]
    )
    event = audit("incident.not_reportable", incident).get()
    assert event.after["reason"] == reason and event.after["decided_by"] == "april"

    again = token_client(approver).post(url, {"reason": reason}, format="json")
    assert again.status_code == 409
    closed = token_client(member).post(f"/api/incidents/{incident.pk}/close", {}, format="json")
    assert closed.status_code == 200, closed.json()


@pytest.mark.django_db
def test_a_forbidden_decision_right_stops_every_not_reportable_determination(
    incident, member, approver, model
):
    DecisionRight.objects.create(
        action="change-report-deadline",
        model=model,
        forbidden=True,
        required_approvals=[],
        description="Every serious incident of this model is reported.",
    )
    incidents.mark_serious(incident, member, category="serious", aware_at=recent())
    refused = token_client(approver).post(
        f"/api/incidents/{incident.pk}/not-reportable", {"reason": "minor"}, format="json"
    )
    assert refused.status_code == 403
    assert "never moved or lifted" in refused.json()["message"]


@pytest.mark.django_db
def test_removing_the_category_does_not_stop_a_running_clock(incident, member):
    incidents.mark_serious(incident, member, category="serious", aware_at=recent())
    answer = token_client(member).post(
        f"/api/incidents/{incident.pk}/serious", {"category": ""}, format="json"
    )
    assert answer.status_code == 409
    assert "category" in answer.json()["fields"]
    assert Incident.objects.get(pk=incident.pk).serious_category == "serious"


# --- the deadline in force only moves earlier by itself -----------------------------


@pytest.mark.django_db
def test_a_later_category_keeps_the_earlier_deadline_and_both_are_on_record(incident, member):
    api = token_client(member)
    url = f"/api/incidents/{incident.pk}/serious"
    # widespread: 2 days from T0, long past; serious would give 15 days
    first = api.post(
        url, {"category": "widespread", "aware_at": "2026-05-04T09:00:00Z"}, format="json"
    )
    assert first.json()["report_deadline"] == "2026-05-06T09:00:00Z"
    changed = api.post(
        url, {"category": "serious", "aware_at": "2026-05-04T09:00:00Z"}, format="json"
    )
    assert changed.status_code == 200, changed.json()
    body = changed.json()
    assert body["serious_category"] == "serious"
    assert body["report_deadline"] == "2026-05-06T09:00:00Z"  # the earliest stays
    assert body["report_overdue"] is True
    assert [
        (h["deadline"], h["category"], h["in_force"], h["by"]) for h in body["deadline_history"]
    ] == [
        ("2026-05-06T09:00:00Z", "widespread", True, "mark"),
        ("2026-05-19T09:00:00Z", "serious", False, "mark"),
    ]
    assert "stays due 2026-05-06 09:00 UTC" in body["timeline"][-1]["message"]
    events = list(audit("incident.mark_serious", incident).order_by("pk"))
    assert [parse_datetime(e.after["report_deadline"]) for e in events] == [
        T0 + timedelta(days=2),
        T0 + timedelta(days=2),
    ]
    assert parse_datetime(events[-1].after["computed_deadline"]) == T0 + timedelta(days=15)
    assert not audit("incident.change_report_deadline", incident).exists()

    # a later awareness moment is a later deadline too: held the same way
    later = api.post(
        url, {"category": "widespread", "aware_at": "2026-05-05T09:00:00Z"}, format="json"
    )
    assert later.json()["report_deadline"] == "2026-05-06T09:00:00Z"
    # an earlier one applies at once
    death = api.post(url, {"category": "death", "aware_at": "2026-04-20T09:00:00Z"}, format="json")
    assert death.json()["report_deadline"] == "2026-04-30T09:00:00Z"
    assert len(death.json()["deadline_history"]) == 4


@pytest.mark.django_db
def test_a_decider_with_the_right_moves_the_deadline_later_with_a_reason(
    incident, member, approver
):
    url = f"/api/incidents/{incident.pk}/serious"
    aware = recent()
    incidents.mark_serious(incident, member, category="death", aware_at=aware)
    body = {"category": "serious", "aware_at": aware.isoformat(), "reason": "Nobody died."}

    refused = token_client(member).post(url, body, format="json")
    assert refused.status_code == 403
    assert "reason" in refused.json()["fields"]
    assert Incident.objects.get(pk=incident.pk).serious_category == "death"

    moved = token_client(approver).post(url, body, format="json")
    assert moved.status_code == 200, moved.json()
    incident.refresh_from_db()
    assert incident.report_deadline == aware + timedelta(days=15)
    assert incident.deadline_history[-1]["in_force"] is True
    assert incident.deadline_history[-1]["reason"] == "Nobody died."
    event = audit("incident.change_report_deadline", incident).get()
    # the audit trail keeps milliseconds
    assert abs(parse_datetime(event.after["from_deadline"]) - (aware + timedelta(days=10))) < (
        timedelta(milliseconds=1)
    )
    assert abs(parse_datetime(event.after["to_deadline"]) - incident.report_deadline) < (
        timedelta(milliseconds=1)
    )
    assert event.after["reason"] == "Nobody died." and event.after["decided_by"] == "april"
    assert "moved from" in incident.timeline.filter(kind="regulatory").last().message


@pytest.mark.django_db
def test_the_admin_form_does_not_recompute_the_deadline(incident, member, client):
    incidents.mark_serious(incident, member, category="widespread", aware_at=T0)
    incidents.mark_serious(incident, member, category="serious", aware_at=T0)
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get(f"/admin/playbooks/incident/{incident.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if k in form.fields and v is not None}
    data.update(
        {
            "title": "Wrongful declines (edited)",
            "model": incident.model_id,
            "risks": [],
            "dataset_versions": [],
        }
    )
    for prefix in ("completions", "escalations", "timeline"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    saved = client.post(f"/admin/playbooks/incident/{incident.pk}/change/", data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    incident.refresh_from_db()
    assert incident.title == "Wrongful declines (edited)"
    assert incident.report_deadline == T0 + timedelta(days=2)


# --- the moment of the report -------------------------------------------------------


@pytest.mark.django_db
def test_a_report_before_awareness_or_in_the_future_is_refused(incident, member):
    api = token_client(member)
    incidents.mark_serious(incident, member, category="serious", aware_at=T0 + timedelta(hours=3))
    url = f"/api/incidents/{incident.pk}/report"

    before = api.post(url, {"reported_at": "2026-05-04T09:00:00Z"}, format="json")
    assert before.status_code == 400
    assert list(before.json()["fields"]) == ["reported_at"]
    assert "precede awareness" in before.json()["message"]

    future = (timezone.now() + timedelta(days=1)).isoformat()
    ahead = api.post(url, {"reported_at": future}, format="json")
    assert ahead.status_code == 400
    assert list(ahead.json()["fields"]) == ["reported_at"]
    assert "future" in ahead.json()["message"]
    assert Incident.objects.get(pk=incident.pk).reported_at is None
    assert not audit("incident.report", incident).exists()

    good = api.post(url, {"reported_at": "2026-05-10T08:00:00Z"}, format="json")
    assert good.status_code == 200, good.json()
    assert good.json()["reported_at"] == "2026-05-10T08:00:00Z"
    twice = api.post(url, {"reported_at": "2026-05-11T08:00:00Z"}, format="json")
    assert twice.status_code == 409
    assert Incident.objects.get(pk=incident.pk).reported_at.day == 10


# --- an overdue report is flagged, counted and escalated -----------------------------


@pytest.mark.django_db
def test_an_overdue_report_is_flagged_filterable_and_counted(
    incident, model, member, client, outsider
):
    on_time = incidents.open_incident(model=model, title="On time", severity="high")
    incidents.mark_serious(on_time, member, category="serious", aware_at=recent())
    incidents.mark_serious(incident, member, category="widespread", aware_at=T0)
    incidents.open_incident(model=model, title="Not serious", severity="low")
    api = token_client(member)

    overdue = api.get("/api/incidents/?report_overdue=true").json()["results"]
    assert [i["id"] for i in overdue] == [incident.pk]
    assert overdue[0]["report_overdue"] is True
    others = api.get("/api/incidents/?report_overdue=false").json()["results"]
    assert incident.pk not in [i["id"] for i in others] and len(others) == 2
    assert api.get(f"/api/incidents/{on_time.pk}").json()["report_overdue"] is False
    assert token_client(outsider).get("/api/incidents/?report_overdue=true").json()["count"] == 0
    assert "govreg_overdue_incident_reports 1.0" in client.get("/metrics").content.decode()

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    listed = client.get("/admin/playbooks/incident/?report_overdue=yes")
    assert listed.status_code == 200
    assert [i.pk for i in listed.context["cl"].result_list] == [incident.pk]
    not_listed = client.get("/admin/playbooks/incident/?report_overdue=no")
    assert incident.pk not in [i.pk for i in not_listed.context["cl"].result_list]

    incidents.record_report(incident, member, reported_at=T0 + timedelta(days=3))
    assert api.get("/api/incidents/?report_overdue=true").json()["count"] == 0
    assert "govreg_overdue_incident_reports 0.0" in client.get("/metrics").content.decode()


@pytest.mark.django_db
def test_an_overdue_report_escalates_through_the_whole_chain_once(
    model, playbook, owner, member, lead, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident = incidents.open_incident(
            model=model,
            title="PSI critical on loan-default",
            playbook_version=latest_version(playbook),
            now=T0,
        )
    incidents.acknowledge(incident, member, now=T0 + timedelta(minutes=5))
    incidents.mark_serious(incident, member, category="widespread", aware_at=T0)
    mail.outbox.clear()
    deadline = T0 + timedelta(days=2)

    with django_capture_on_commit_callbacks(execute=True):
        before = regulatory_deadline_warnings.delay(now=(deadline - timedelta(hours=1)).isoformat())
        first = regulatory_deadline_warnings.delay(now=(deadline + timedelta(hours=1)).isoformat())
        second = regulatory_deadline_warnings.delay(now=(deadline + timedelta(hours=2)).isoformat())
    assert before.get() == {"warned": [incident.pk], "escalated": []}
    assert first.get() == {"warned": [], "escalated": [incident.pk]}
    assert second.get() == {"warned": [], "escalated": []}

    incident.refresh_from_db()
    assert incident.report_overdue_escalated_at == deadline + timedelta(hours=1)
    rows = incident.escalations.filter(reason="report-overdue")
    assert list(rows.values_list("level", "group_name")) == [
        (1, "credit-risk"),
        (2, "oncall-leads"),
    ]
    overdue_mails = [m for m in mail.outbox if "report overdue" in m.subject]
    assert sorted(tuple(sorted(m.to)) for m in overdue_mails) == [
        (lead.email,),
        tuple(sorted([owner.email, member.email])),
    ]
    assert "was due 2026-05-06 09:00 UTC" in overdue_mails[0].body
    assert incident.timeline.filter(kind="escalation", data__reason="report-overdue").count() == 2
    entry = incident.timeline.get(kind="regulatory", message__contains="overdue")
    assert "overdue, escalated to credit-risk, oncall-leads" in entry.message
    assert entry.at == deadline + timedelta(hours=1)
    event = audit("incident.report_overdue", incident).get()
    assert event.after["escalated_to"] == ["credit-risk", "oncall-leads"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_escalate_an_overdue_report_once(model, playbook, member, lead):
    incident = incidents.open_incident(
        model=model, title="PSI", playbook_version=latest_version(playbook), now=T0
    )
    incidents.mark_serious(incident, member, category="widespread", aware_at=T0)
    mail.outbox.clear()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            outcome = regulatory_deadline_warnings.apply(
                kwargs={"now": (T0 + timedelta(days=3)).isoformat()}
            )
            assert outcome.successful(), outcome.traceback
            results.append(outcome.result["escalated"])
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
    assert sorted(results) == [[], [incident.pk]]
    assert Escalation.objects.filter(incident=incident, reason="report-overdue").count() == 2
    assert audit("incident.report_overdue", incident).count() == 1
    assert len([m for m in mail.outbox if lead.email in m.to]) == 1


@pytest.mark.django_db
def test_without_a_playbook_the_owning_team_is_escalated(
    incident, member, owner, django_capture_on_commit_callbacks
):
    incidents.mark_serious(incident, member, category="serious", aware_at=T0)
    with django_capture_on_commit_callbacks(execute=True):
        ran = regulatory_deadline_warnings.delay(now=(T0 + timedelta(days=16)).isoformat())
    assert ran.get()["escalated"] == [incident.pk]
    row = Escalation.objects.get(incident=incident)
    assert (row.reason, row.level, row.group_name) == ("report-overdue", 1, "credit-risk")
    assert {a for m in mail.outbox for a in m.to} == {owner.email, member.email}


@pytest.mark.django_db
def test_an_overdue_escalation_leaves_the_acknowledgement_chain_alone(
    model, playbook, member, lead, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident = incidents.open_incident(
            model=model, title="PSI", playbook_version=latest_version(playbook), now=T0
        )
        incidents.mark_serious(incident, member, category="widespread", aware_at=T0)
        assert regulatory_deadline_warnings.delay(
            now=(T0 + timedelta(minutes=10)).isoformat()
        ).get() == {"warned": [incident.pk], "escalated": []}
        # still nobody acknowledged: level 2 of the acknowledgement chain comes after
        done = escalation.escalate_due(now=T0 + timedelta(minutes=20))
        overdue = regulatory_deadline_warnings.delay(now=(T0 + timedelta(days=3)).isoformat())
    assert [e.level for e in done] == [2]
    assert overdue.get()["escalated"] == [incident.pk]
    assert sorted(incident.escalations.values_list("reason", "level")) == [
        ("report-overdue", 1),
        ("report-overdue", 2),
        ("unacknowledged", 1),
        ("unacknowledged", 2),
    ]


@pytest.mark.django_db
def test_a_determined_or_reported_incident_is_not_escalated(incident, member, approver, model):
    other = incidents.open_incident(model=model, title="Second", severity="high", now=T0)
    incidents.mark_serious(incident, member, category="widespread", aware_at=T0)
    incidents.mark_serious(other, member, category="widespread", aware_at=T0)
    incidents.determine_not_reportable(incident, approver, reason="No harm occurred.")
    incidents.record_report(other, member, reported_at=T0 + timedelta(days=3))
    ran = regulatory_deadline_warnings.delay(now=(T0 + timedelta(days=5)).isoformat())
    assert ran.get() == {"warned": [], "escalated": []}
    assert not Escalation.objects.exists()


@pytest.mark.django_db
def test_the_overdue_webhook_names_its_event(
    incident,
    member,
    receiver,  # noqa: F811 - the signed-webhook receiver fixture of test_escalation
    django_capture_on_commit_callbacks,
):
    incidents.mark_serious(incident, member, category="death", aware_at=T0)
    with django_capture_on_commit_callbacks(execute=True):
        regulatory_deadline_warnings.delay(now=(T0 + timedelta(days=11)).isoformat()).get()
    assert [r["event"] for r in receiver.received] == ["incident.report_overdue"]
    hook = receiver.received[0]
    assert hook["valid"] is True
    assert hook["body"]["escalation"]["reason"] == "report-overdue"
    assert hook["body"]["incident"]["report_deadline"] == "2026-05-14T09:00:00+00:00"


# --- the schema says what may be null ---------------------------------------------


@pytest.mark.django_db
def test_the_schema_shows_the_clock_fields_nullable_where_they_are(member):
    schema = token_client(member).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    props = schema["components"]["schemas"]["IncidentDetail"]["properties"]
    for name in (
        "report_deadline",
        "report_overdue_escalated_at",
        "reported_at",
        "not_reportable_at",
        "not_reportable_by",
    ):
        assert props[name].get("nullable") is True, name
    assert (
        props["report_overdue"]["type"] == "boolean" and "nullable" not in props["report_overdue"]
    )
    assert props["not_reportable_reason"]["type"] == "string"
    assert props["deadline_history"]["type"] == "array"
    entry = schema["components"]["schemas"]["ReportDeadline"]["properties"]
    assert set(entry) == {"deadline", "category", "aware_at", "at", "by", "in_force", "reason"}
    request = schema["paths"]["/api/incidents/{id}/not-reportable/"]["post"]["requestBody"]
    ref = request["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/NotReportable")
    serious = schema["components"]["schemas"]["Serious"]["properties"]
    assert serious["category"]["oneOf"][0]["$ref"].endswith("/SeriousCategoryEnum")
    assert "reason" in serious
    # the incident verbs' note is its own component, not the gate's "Note"
    close = schema["paths"]["/api/incidents/{id}/close/"]["post"]["requestBody"]
    assert close["content"]["application/json"]["schema"]["$ref"].endswith("/IncidentNote")
