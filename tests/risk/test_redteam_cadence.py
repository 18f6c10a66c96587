"""The red-team cadence per tier: beat reminds a high-tier model's team once when no
exercise was completed within the cadence, and the console's home shows it."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from accounts.roles import Role
from config.env import env_int_map
from risk import redteam
from risk.models import RedTeamExercise, RedTeamReminder
from risk.tasks import redteam_reminders
from tests.factories import UserFactory
from tests.risk.factories import make_model, make_version

pytestmark = pytest.mark.django_db

REGISTERED = datetime(2026, 1, 5, 9, 0)


@pytest.fixture(autouse=True)
def cadence(settings):
    settings.GOVREG_REDTEAM_CADENCE_DAYS = {"high": 180}


@pytest.fixture
def model(team, owner):
    with time_machine.travel(REGISTERED, tick=False):
        return make_model(team, risk_tier="high", name="support-llm")


def completed_exercise(version, ended, status="completed"):
    return redteam.save_exercise(
        RedTeamExercise(
            team=version.model.team,
            title=f"sweep ending {ended}",
            scope="jailbreaks",
            method="manual prompting",
            starts_on=ended - timedelta(days=3),
            ends_on=ended if status == "completed" else None,
            status=status,
        ),
        model_versions=[version],
    )


def run(day: str) -> int:
    return redteam_reminders.delay(day).get()["sent"]


def test_a_high_tier_model_never_exercised_is_reminded_once(model, owner, member):
    make_model(model.team, risk_tier="limited", name="faq-ranker")  # no cadence for its tier

    assert run("2026-06-01") == 0  # 147 days after registration
    assert run("2026-07-04") == 1  # 180 days: due
    assert run("2026-07-04") == 0
    assert run("2026-07-20") == 0  # the same due date: nothing new to say

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == (
        "[govreg] Model 'support-llm' is due a red-team exercise (since 2026-07-04)"
    )
    assert sorted(message.to) == sorted([owner.email, member.email])
    assert "none yet" in message.body and "/api/redteam-exercises/" in message.body
    reminder = RedTeamReminder.objects.get()
    assert reminder.ml_model == model and reminder.sent_at is not None


def test_a_completed_exercise_restarts_the_cadence(model):
    version = make_version(model)
    completed_exercise(version, datetime(2026, 6, 1).date())
    # a planned exercise does not count
    completed_exercise(version, datetime(2026, 12, 1).date(), status="planned")

    assert run("2026-07-10") == 0
    assert run("2026-11-27") == 0  # 179 days after the exercise ended
    assert run("2026-11-28") == 1
    reminder = RedTeamReminder.objects.get()
    assert str(reminder.due_date) == "2026-11-28"
    assert str(reminder.last_completed_on) == "2026-06-01"


def test_the_home_panel_shows_models_due_to_their_team_only(client, model, member, outsider):
    with time_machine.travel(datetime(2026, 8, 1, 9, 0), tick=False):
        client.force_login(member)
        page = client.get("/").content.decode()
        assert "Red-team exercises due" in page
        assert "support-llm" in page and "2026-07-04" in page

        client.force_login(outsider)
        assert "Red-team exercises due" not in client.get("/").content.decode()


def test_the_home_panel_lists_open_blocking_findings(client, model, member, team):
    version = make_version(model)
    exercise = completed_exercise(version, datetime(2026, 1, 20).date())
    risk_owner = UserFactory(username="rita", groups=[team, Role.ML_ENGINEER])
    with time_machine.travel(datetime(2026, 2, 1, 9, 0), tick=False):
        redteam.record_finding(
            exercise,
            member,
            title="Tool output injection",
            severity="critical",
            reproduction="A web page tells the agent to mail its notes.",
            new_risk=redteam.NewRisk("Agent exfiltration", 3, 4, risk_owner),
        )
        client.force_login(member)
        page = client.get("/").content.decode()

    assert "Tool output injection" in page and "critical" in page


def test_the_cadence_setting_is_read_strictly(monkeypatch):
    monkeypatch.setenv("GOVREG_REDTEAM_CADENCE_DAYS", "high=90, limited=365")
    assert env_int_map("GOVREG_REDTEAM_CADENCE_DAYS", {"high": 180}, {"high", "limited"}) == {
        "high": 90,
        "limited": 365,
    }
    for bad in ("high", "extreme=3", "high=soon", "high=-1"):
        monkeypatch.setenv("GOVREG_REDTEAM_CADENCE_DAYS", bad)
        with pytest.raises(ImproperlyConfigured, match="GOVREG_REDTEAM_CADENCE_DAYS"):
            env_int_map("GOVREG_REDTEAM_CADENCE_DAYS", {}, {"high", "limited"})
