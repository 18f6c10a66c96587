"""Periodic risk-register work, run by Celery beat (see CELERY_BEAT_SCHEDULE).

Both tasks are idempotent: a reminder is sent once per (risk, kind, due date)
and an acceptance expires once, however often they run.
"""

from datetime import date, datetime

from celery import shared_task

from risk import redteam, services


@shared_task(name="risk.review_reminders")
def review_reminders(today: str | None = None) -> dict:
    """Remind owners of reviews coming due and overdue (``today``: ISO date, for tests)."""
    return services.send_review_reminders(date.fromisoformat(today) if today else None)


@shared_task(name="risk.expire_acceptances")
def expire_acceptances(now: str | None = None) -> dict:
    """Expire lapsed acceptances (reopening their risks) and warn of those about to lapse."""
    moment = datetime.fromisoformat(now) if now else None
    expired = services.expire_acceptances(moment)
    warned = services.send_acceptance_reminders(moment)
    return {"expired": expired, "expiring_notices": warned}


@shared_task(name="risk.redteam_reminders")
def redteam_reminders(today: str | None = None) -> dict:
    """Remind teams whose models are past their tier's red-team cadence (once per due date)."""
    return {"sent": redteam.send_redteam_reminders(date.fromisoformat(today) if today else None)}
