"""The home panel "changes since my last visit": the same events as ``visible_events``
(deny by default, each type's scope decides), read in bounded windows of the newest
events so its query count does not grow with the data, and saying so when it stopped
before the oldest event."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.services import record
from audit.ui import history
from audit.ui.history import recent_visible_events, visible_events
from tests.console.conftest import make_model, make_version
from tests.console.test_home_panels import home, panel

pytestmark = pytest.mark.django_db


def since():
    return timezone.now() - timedelta(days=7)


def expected(user, limit):
    return list(visible_events(user).filter(created_at__gte=since()).order_by("-seq")[:limit])


@pytest.fixture
def interleaved(team, other_team, engineer):
    """Events of both teams' models and versions, mixed with unregistered and
    unparsable ones, so every small window holds some the engineer may not see."""
    for n in range(4):
        mine = make_model(team, f"mine-{n}")
        make_model(other_team, f"theirs-{n}")
        make_version(mine, "1", engineer)
        record("test.unregistered", object_type="test.thing", object_id=str(mine.pk))
        record("test.odd", object_type="registry.mlmodel", object_id="not-a-pk")


@pytest.mark.parametrize("window", [1, 2, 3, 7, 200])
@pytest.mark.parametrize("who", ["engineer", "outsider", "auditor"])
def test_the_windows_find_exactly_the_events_visible_events_allows(
    request, interleaved, who, window
):
    user = request.getfixturevalue(who)
    for limit in (1, 5, 13, 100):
        recent = recent_visible_events(
            user, since=since(), limit=limit, window=window, max_windows=1000
        )
        assert [e.seq for e in recent.events] == [e.seq for e in expected(user, limit)]
        assert recent.exhausted
    engineer_sees = {
        e.object_type
        for e in recent_visible_events(
            request.getfixturevalue("engineer"),
            since=since(),
            limit=100,
            window=window,
            max_windows=1000,
        ).events
    }
    assert "test.thing" not in engineer_sees  # no app said who sees it: nobody but the trail


def test_nobody_signed_out_sees_anything(interleaved):
    from django.contrib.auth.models import AnonymousUser

    assert recent_visible_events(AnonymousUser(), since=since(), limit=13).events == []


def test_it_stops_after_max_windows_in_a_bounded_number_of_queries(
    interleaved, engineer, django_assert_max_num_queries
):
    # two per window, plus the user's permissions and the content types the scopes
    # look up once (a number of registered types, not of rows)
    with django_assert_max_num_queries(2 * 2 + 1 + len(history._scopes)):
        recent = recent_visible_events(engineer, since=since(), limit=100, window=2, max_windows=2)
    assert not recent.exhausted and recent.checked == 4
    # what it found is the newest of the visible events, in order
    wanted = expected(engineer, 100)
    assert [e.seq for e in recent.events] == [e.seq for e in wanted[: len(recent.events)]]


def test_the_panel_says_when_it_looked_only_at_the_newest_changes(
    monkeypatch, signed_in, engineer, interleaved
):
    monkeypatch.setattr(history, "WINDOW", 2)
    monkeypatch.setattr(history, "MAX_WINDOWS", 1)
    changes = panel(home(signed_in(engineer)), "Changes in the last 7 days")
    assert "Only the newest 2 changes were looked through" in changes
    monkeypatch.setattr(history, "MAX_WINDOWS", 1000)
    changes = panel(home(signed_in(engineer)), "Changes in the last 7 days")
    assert "were looked through" not in changes and "mine-3" in changes and "theirs-" not in changes
