"""The incident board through Django's test client: scoping (another team's incident
is a 404), CSRF, each action through the page audited by the services, refusals as
messages, the overdue report clock, action items, drills, and bounded queries."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from audit.models import AuditEvent
from playbooks.models import ActionItem, Drill, Incident, PostIncidentReview
from playbooks.services import incidents, reviews
from playbooks.services.playbooks import latest_version
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def client_of(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def incident(model, playbook, owner):
    return incidents.open_incident(
        model=model,
        title="Scores drift",
        playbook_version=latest_version(playbook),
        environment_name="production",
        user=owner,
    )


@pytest.fixture
def board(db):
    return UserFactory(username="bea", groups=[Role.BOARD])


def detail(incident):
    return reverse("ui-incident-detail", args=[incident.pk])


def events(incident, action=None):
    rows = AuditEvent.objects.filter(object_type="playbooks.incident", object_id=str(incident.pk))
    return rows.filter(action=action) if action else rows


def test_an_outsider_gets_404_on_another_teams_incident(incident, outsider):
    client = client_of(outsider)
    assert client.get(detail(incident)).status_code == 404
    url = reverse("ui-incident-acknowledge", args=[incident.pk])
    assert client.post(url, {"note": "mine now"}).status_code == 404
    incident.refresh_from_db()
    assert incident.status == "open"
    board = client.get(reverse("ui-incident-list"))
    assert board.status_code == 200 and b"Scores drift" not in board.content


def test_the_team_sees_its_incident_with_steps_and_actions(incident, owner):
    page = client_of(owner).get(detail(incident))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Roll back to the previous version." in text
    for verb in ("acknowledge", "escalate", "contain"):
        assert reverse(f"ui-incident-{verb}", args=[incident.pk]) in text
    assert reverse("ui-incident-resolve", args=[incident.pk]) not in text  # not yet contained


@pytest.mark.parametrize(
    ("verb", "status", "action"),
    [
        ("acknowledge", "acknowledged", "update"),
        ("contain", "contained", "incident.contain"),
        ("escalate", "open", "incident.escalate"),
    ],
)
def test_each_action_through_the_page_is_audited(incident, owner, verb, status, action):
    before = events(incident, action).count()
    answer = client_of(owner).post(
        reverse(f"ui-incident-{verb}", args=[incident.pk]), {"note": "from the board"}
    )
    assert answer.status_code == 302 and answer["Location"] == detail(incident)
    incident.refresh_from_db()
    assert incident.status == status
    new = events(incident, action).order_by("-seq")[: events(incident, action).count() - before]
    assert new and all(e.actor_username == owner.username for e in new)


def test_resolve_after_contain_and_the_escalation_names_the_next_level(incident, owner, leads):
    client = client_of(owner)
    client.post(reverse("ui-incident-escalate", args=[incident.pk]))
    incident.refresh_from_db()
    assert incident.escalation_level == 2
    assert incident.escalations.filter(level=2, group_name=leads.name).exists()
    assert incident.timeline.filter(kind="comment", message__contains="Escalated by hand").exists()
    client.post(reverse("ui-incident-contain", args=[incident.pk]), {"note": "rolled back"})
    client.post(reverse("ui-incident-resolve", args=[incident.pk]), {"note": "fixed"})
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_by == owner
    assert events(incident).filter(actor_username=owner.username, action="update").count() >= 2


def test_a_refused_transition_is_a_message_not_an_error(incident, owner):
    answer = client_of(owner).post(reverse("ui-incident-resolve", args=[incident.pk]), follow=True)
    assert answer.status_code == 200
    assert "cannot become resolved" in answer.content.decode()
    incident.refresh_from_db()
    assert incident.status == "open"


def test_closing_a_critical_incident_without_its_review_is_refused_on_the_page(incident, owner):
    client = client_of(owner)
    for verb in ("contain", "resolve"):
        client.post(reverse(f"ui-incident-{verb}", args=[incident.pk]))
    answer = client.post(reverse("ui-incident-close", args=[incident.pk]), follow=True)
    assert "without a completed post-incident review" in answer.content.decode()
    incident.refresh_from_db()
    assert incident.status == "resolved"


def test_the_board_reads_but_may_not_act(incident, board):
    client = client_of(board)
    page = client.get(detail(incident))
    assert page.status_code == 200
    assert reverse("ui-incident-acknowledge", args=[incident.pk]) not in page.content.decode()
    answer = client.post(reverse("ui-incident-acknowledge", args=[incident.pk]), follow=True)
    assert "may see this incident but not act on it" in answer.content.decode()
    incident.refresh_from_db()
    assert incident.status == "open"


def test_every_action_needs_its_csrf_token(incident, owner):
    client = client_of(owner, enforce_csrf_checks=True)
    url = reverse("ui-incident-acknowledge", args=[incident.pk])
    assert client.post(url).status_code == 403
    token = client.get(detail(incident)).context["csrf_token"]
    assert client.post(url, {"csrfmiddlewaretoken": token}).status_code == 302
    incident.refresh_from_db()
    assert incident.status == "acknowledged"


def test_gets_never_write(incident, owner):
    before = AuditEvent.objects.count()
    client = client_of(owner)
    client.get(reverse("ui-incident-acknowledge", args=[incident.pk]))  # 405
    client.get(detail(incident))
    client.get(reverse("ui-incident-list"))
    assert AuditEvent.objects.count() == before


def test_the_board_finds_the_serious_incident_whose_report_is_overdue(incident, owner, board):
    incidents.mark_serious(
        incident, owner, category="widespread", aware_at=timezone.now() - timedelta(days=3)
    )
    page = client_of(board).get(reverse("ui-incident-list"), {"overdue": "true", "status": "all"})
    text = page.content.decode()
    assert "Scores drift" in text
    assert "Report overdue by 1 d" in text
    assert 'class="row-overdue"' in text
    on_time = client_of(board).get(reverse("ui-incident-list"), {"overdue": "false"})
    assert "Scores drift" not in on_time.content.decode()


def test_completing_an_action_item_through_the_page(incident, owner):
    review = reviews.save_review(PostIncidentReview(incident=incident, summary="drift"))
    item = reviews.save_action_item(
        ActionItem(
            review=review, title="Add a segment test", owner=owner, due_date=timezone.localdate()
        )
    )
    client = client_of(owner)
    assert b"Add a segment test" in client.get(detail(incident)).content
    answer = client.post(reverse("ui-action-item-complete", args=[item.pk]), {"note": "added"})
    assert answer["Location"] == detail(incident)
    item.refresh_from_db()
    assert item.status == "done" and item.closed_by == owner
    assert AuditEvent.objects.filter(action="action_item.complete", object_id=str(item.pk)).exists()
    again = client.post(reverse("ui-action-item-complete", args=[item.pk]), follow=True)
    assert "already done" in again.content.decode()


def test_drills_are_listed_and_scoped(playbook, owner, outsider):
    drill = reviews.save_drill(
        Drill(playbook=playbook, title="Rollback drill", scheduled_for=timezone.now())
    )
    assert b"Rollback drill" in client_of(owner).get(reverse("ui-drill-list")).content
    assert client_of(owner).get(reverse("ui-drill-detail", args=[drill.pk])).status_code == 200
    assert b"Rollback drill" not in client_of(outsider).get(reverse("ui-drill-list")).content
    assert client_of(outsider).get(reverse("ui-drill-detail", args=[drill.pk])).status_code == 404


def _many(model, count):
    Incident.objects.bulk_create(
        Incident(model=model, title=f"bulk {i}", severity=("critical", "high", "low")[i % 3])
        for i in range(count)
    )


@pytest.mark.parametrize("page", ["list", "detail"])
def test_queries_do_not_grow_with_the_number_of_incidents(
    incident, model, owner, page, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_of(owner)
    url = reverse("ui-incident-list") if page == "list" else detail(incident)
    _many(model, 2)  # 3 incidents
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as three:
        assert client.get(url).status_code == 200
    _many(model, 297)  # 300 incidents
    for n in range(1, 4):
        incidents.add_comment(incident, owner, f"comment {n}")
    with django_assert_max_num_queries(len(three)):
        assert client.get(url).status_code == 200
