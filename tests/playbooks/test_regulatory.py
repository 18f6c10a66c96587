"""The EU AI Act reporting clock: 15 days for a serious incident, 10 where a
person died, 2 for a widespread infringement or critical infrastructure, from
the moment the team became aware; a warning before it runs out, sent once."""

from datetime import timedelta

import pytest
from django.core import mail

from audit.models import AuditEvent
from playbooks.models import Incident
from playbooks.services import incidents
from playbooks.tasks import regulatory_deadline_warnings
from tests.conftest import token_client
from tests.playbooks.conftest import T0


@pytest.fixture
def incident(model):
    return incidents.open_incident(model=model, title="Wrongful declines", now=T0)


@pytest.mark.parametrize(
    ("category", "days"),
    [
        ("serious", 15),
        ("death", 10),
        ("widespread", 2),
        ("critical-infrastructure", 2),
    ],
)
@pytest.mark.django_db
def test_each_case_gets_its_reporting_deadline(incident, member, category, days):
    aware = T0 + timedelta(hours=3)
    marked = incidents.mark_serious(incident, member, category=category, aware_at=aware)
    assert marked.report_deadline == aware + timedelta(days=days)
    assert AuditEvent.objects.filter(
        action="incident.mark_serious", object_id=str(incident.pk)
    ).exists()


@pytest.mark.django_db
def test_the_deadline_is_shown_in_the_api(incident, member):
    api = token_client(member)
    answer = api.post(
        f"/api/incidents/{incident.pk}/serious",
        {"category": "death", "aware_at": "2026-05-04T12:00:00Z"},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["report_deadline"] == "2026-05-14T12:00:00Z"
    assert answer.json()["serious_category"] == "death"
    listed = api.get("/api/incidents/?serious=true").json()
    assert [i["id"] for i in listed["results"]] == [incident.pk]

    missing = api.post(
        f"/api/incidents/{incident.pk}/serious", {"category": "death"}, format="json"
    )
    assert missing.status_code == 400
    assert "aware_at" in missing.json()["fields"]


@pytest.mark.django_db
def test_owners_are_warned_once_before_the_deadline(
    incident, member, owner, django_capture_on_commit_callbacks
):
    aware = T0
    incidents.mark_serious(incident, member, category="serious", aware_at=aware)
    deadline = aware + timedelta(days=15)

    with django_capture_on_commit_callbacks(execute=True):
        early = regulatory_deadline_warnings.delay(
            now=(deadline - timedelta(hours=49)).isoformat()
        ).get()
    assert early == {"warned": [], "escalated": []}
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        warned = regulatory_deadline_warnings.delay(
            now=(deadline - timedelta(hours=47)).isoformat()
        ).get()
        again = regulatory_deadline_warnings.delay(
            now=(deadline - timedelta(hours=2)).isoformat()
        ).get()

    assert warned == {"warned": [incident.pk], "escalated": []}
    assert again == {"warned": [], "escalated": []}
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) == {owner.email, member.email}
    assert "due in 47 h" in mail.outbox[0].body
    assert Incident.objects.get(pk=incident.pk).timeline.filter(kind="regulatory").count() == 2


@pytest.mark.django_db
def test_a_recorded_report_stops_the_warning(incident, member):
    incidents.mark_serious(incident, member, category="widespread", aware_at=T0)
    incidents.record_report(incident, member, reported_at=T0 + timedelta(hours=20))
    for hours in (36, 60):  # inside the warning window, then past the deadline
        ran = regulatory_deadline_warnings.delay(now=(T0 + timedelta(hours=hours)).isoformat())
        assert ran.get() == {"warned": [], "escalated": []}
