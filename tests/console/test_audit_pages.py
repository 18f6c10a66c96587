"""The audit trail page (/audit/) and the history helper object pages include."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.context import acting_as
from audit.models import AuditEvent
from audit.services import record
from audit.ui.history import history, visible_events
from registry.models import MLModel
from tests.console.conftest import make_model, make_version

pytestmark = pytest.mark.django_db


def test_only_those_who_read_the_trail_get_the_page(signed_in, engineer, alice, board, auditor):
    assert signed_in(engineer).get("/audit/").status_code == 403
    assert signed_in(alice).get("/audit/").status_code == 403
    for reader in (board, auditor):
        page = signed_in(reader).get("/audit/")
        assert page.status_code == 200
        html = page.content.decode()
        assert 'href="/api/audit-exports/"' in html  # the signed exports
        assert 'href="/api/audit/checkpoint"' in html


def test_the_navigation_offers_the_trail_to_its_readers_only(signed_in, engineer, auditor):
    assert 'href="/audit/"' not in signed_in(engineer).get("/").content.decode()
    assert 'href="/audit/"' in signed_in(auditor).get("/").content.decode()


def test_the_trail_filters_by_actor_action_object_type_and_dates(
    signed_in, auditor, team, engineer
):
    with acting_as(user=engineer):
        make_model(team, "loan-default")
    with acting_as(name="nightly-job"):
        record("risk.review", object_type="risk.risk", object_id="9")
    old = AuditEvent.objects.get(action="risk.review")
    client = signed_in(auditor)

    def shown(query):
        html = client.get(f"/audit/?{query}").content.decode()
        return {e.action for e in AuditEvent.objects.all() if f"<code>{e.action}</code>" in html}

    assert "risk.review" in shown("")
    assert shown("actor=nightly-job") == {"risk.review"}
    assert shown("action=risk.") == {"risk.review"}
    assert "risk.review" not in shown("object_type=registry.mlmodel")
    assert "create" in shown("object_type=registry.mlmodel&actor=olivia")
    today = timezone.localdate()
    assert "risk.review" in shown(f"date_from={today}&date_to={today}")
    assert shown(f"date_to={today - timedelta(days=1)}") == set()
    assert client.get("/audit/?date_from=not-a-date").status_code == 200  # a message, no 500
    assert old.seq  # the event exists; the filters only chose what to show


def test_the_trail_reads_the_same_number_of_queries_for_3_and_300_events(
    signed_in, auditor, django_assert_max_num_queries
):
    client = signed_in(auditor)
    for number in range(3):
        record("test.event", object_type="test.thing", object_id=str(number))
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/audit/").status_code == 200
    few = len(captured)
    for number in range(3, 300):
        record("test.event", object_type="test.thing", object_id=str(number))
    with django_assert_max_num_queries(few):
        html = client.get("/audit/?page=3").content.decode()
    assert "Page 3 of" in html


def test_history_lists_an_object_and_its_rows_newest_first(team, other_team, engineer):
    model = make_model(team, "loan-default")
    other = make_model(other_team, "card-fraud")
    version = make_version(model, "1", engineer)
    events = history(model, model.versions.all(), limit=50).events
    assert events and all(
        (e.object_type, e.object_id)
        in {("registry.mlmodel", str(model.pk)), ("registry.modelversion", str(version.pk))}
        for e in events
    )
    assert [e.seq for e in events] == sorted((e.seq for e in events), reverse=True)
    other_key = ("registry.mlmodel", str(other.pk))
    assert other_key not in {(e.object_type, e.object_id) for e in events}
    few = history(model, model.versions.all(), limit=1)
    assert len(few.events) == 1 and few.more


def test_visible_events_deny_by_default_and_follow_the_scoping(
    engineer, outsider, auditor, team, other_team
):
    mine = make_model(team, "loan-default")
    make_model(other_team, "card-fraud")
    record("test.unregistered", object_type="test.thing", object_id="1")
    seen = visible_events(engineer)
    assert seen.filter(object_type="registry.mlmodel", object_id=str(mine.pk)).exists()
    assert not seen.filter(object_type="test.thing").exists()  # no app said who sees it
    theirs = visible_events(outsider)
    assert not theirs.filter(object_type="registry.mlmodel", object_id=str(mine.pk)).exists()
    assert visible_events(auditor).filter(object_type="test.thing").exists()
    assert MLModel.objects.count() == 2
