"""Periodic reviews: due and overdue reminders, sent once however often beat runs them."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from risk.models import Reminder
from risk.tasks import review_reminders
from tests.risk.factories import make_risk

pytestmark = pytest.mark.django_db


def test_review_reminders_run_twice_send_one_notification_each(team, owner):
    today = timezone.localdate()
    due = make_risk(team, owner, title="bias drift", next_review_date=today + timedelta(days=2))
    overdue = make_risk(team, owner, title="prompt leak", next_review_date=today - timedelta(3))
    make_risk(team, owner, title="later", next_review_date=today + timedelta(days=60))
    make_risk(team, owner, title="closed", status="closed", next_review_date=today)

    first = review_reminders.delay(today.isoformat()).get()
    second = review_reminders.delay(today.isoformat()).get()

    assert first == {"review-due": 1, "review-overdue": 1}
    assert second == {"review-due": 0, "review-overdue": 0}
    assert sorted(m.subject for m in mail.outbox) == [
        f"[govreg] Review of risk 'bias drift' is due on {due.next_review_date}",
        f"[govreg] Review of risk 'prompt leak' is overdue (was due {overdue.next_review_date})",
    ]
    assert all(m.to == [owner.email] for m in mail.outbox)
    assert any(f"/api/risks/{due.pk}/" in m.body for m in mail.outbox)
    assert Reminder.objects.count() == 2
    assert all(r.sent_at is not None for r in Reminder.objects.all())


def test_a_due_review_that_goes_overdue_is_announced_again(team, owner):
    today = timezone.localdate()
    risk = make_risk(team, owner, next_review_date=today + timedelta(days=1))
    review_reminders.delay(today.isoformat()).get()
    review_reminders.delay((today + timedelta(days=2)).isoformat()).get()
    assert [r.kind for r in Reminder.objects.order_by("created_at", "pk")] == [
        "review-due",
        "review-overdue",
    ]
    assert len(mail.outbox) == 2
    # after a review the next due date is new, so its reminder will be too
    from risk.services import record_review

    record_review(risk, owner)
    risk.refresh_from_db()
    assert risk.next_review_date == today + timedelta(days=risk.review_cadence_days)


def test_a_failed_send_is_retried_next_run(team, owner, monkeypatch):
    today = timezone.localdate()
    make_risk(team, owner, next_review_date=today - timedelta(days=1))
    monkeypatch.setattr(settings, "EMAIL_BACKEND", "tests.risk.test_reminders.BrokenBackend")
    assert review_reminders.delay(today.isoformat()).get()["review-overdue"] == 0
    assert Reminder.objects.get().sent_at is None
    monkeypatch.setattr(settings, "EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    assert review_reminders.delay(today.isoformat()).get()["review-overdue"] == 1
    assert len(mail.outbox) == 1


class BrokenBackend:
    """An SMTP server that is down (outside this machine, so standing in for it is fair)."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionError("smtp down")


def test_board_sees_them_in_the_admin_list(client, team, owner):
    from tests.factories import UserFactory

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    today = timezone.localdate()
    make_risk(team, owner, title="overdue one", next_review_date=today - timedelta(days=1))
    make_risk(team, owner, title="fine one", next_review_date=today + timedelta(days=90))
    page = client.get("/admin/risk/risk/?review=overdue", secure=True)
    assert page.status_code == 200
    assert b"overdue one" in page.content and b"fine one" not in page.content


def test_metrics_gauges(client, team, owner):
    today = timezone.localdate()
    make_risk(
        team,
        owner,
        residual_likelihood=4,
        residual_impact=4,
        next_review_date=today - timedelta(days=1),
    )
    make_risk(team, owner, residual_likelihood=1, residual_impact=1)
    make_risk(team, owner, residual_likelihood=5, residual_impact=5, status="closed")
    text = client.get("/metrics").content.decode()
    assert 'govreg_open_risks{level="high"} 1.0' in text
    assert 'govreg_open_risks{level="low"} 1.0' in text
    assert 'govreg_open_risks{level="critical"} 0.0' in text
    assert "govreg_overdue_risk_reviews 1.0" in text
