"""Telling an escalation level: one mail to the level's group (text from
``playbooks/mail/escalation*.txt``) and a signed webhook, both after the commit
that created the level's ``Escalation`` row. The row is the notice
(``accounts.notify``): its ``emailed_at`` is claimed once, its webhook state moves
to delivered or, after the first try and five retries, failed.

Both escalation (which creates levels) and the beat tasks use this module, so
neither imports the other."""

import logging

import requests
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import notify
from accounts.notify import group_emails
from config.celery_tasks import RetryingTask
from config.statements import Statement
from playbooks.choices import EscalationReason, WebhookState
from playbooks.models import Escalation
from playbooks.webhooks import post_signed

log = logging.getLogger(__name__)

WEBHOOK_MAX_RETRIES = 5

__all__ = ["group_emails", "notify_escalation", "send_escalation_webhook", "tell_level"]


# compiled once (config.statements): read for every level told
_ESCALATION = Statement(
    lambda pk: Escalation.objects.select_related("incident__model").filter(pk=pk), pk=int
)


def tell_level(escalation: Escalation) -> None:
    """Mail and webhook of a new level, once the caller's transaction commits."""
    transaction.on_commit(lambda: notify_escalation.delay(escalation.pk))


def escalation_mail(escalation: Escalation) -> notify.Mail:
    incident = escalation.incident
    return notify.compose(
        "playbooks/mail/escalation",
        {
            "escalation": escalation,
            "incident": incident,
            "overdue": escalation.reason == EscalationReason.REPORT_OVERDUE,
            "deadline": f"{incident.report_deadline:%Y-%m-%d %H:%M}"
            if incident.report_deadline
            else "",
            "incident_url": notify.link("incident-detail", args=[incident.pk]),
        },
        escalation.recipients,
    )


@shared_task(name="playbooks.notify_escalation")
def notify_escalation(escalation_id: int) -> None:
    """E-mail the level's group (once: ``emailed_at`` is claimed by a conditional
    UPDATE), then hand the webhook to its own retrying task."""
    claimed = notify.claim(
        Escalation.objects.filter(pk=escalation_id, emailed_at__isnull=True),
        emailed_at=timezone.now(),
    )
    escalation = _ESCALATION.first(pk=escalation_id)
    if escalation is None:
        raise Escalation.DoesNotExist(f"escalation {escalation_id}")
    if claimed:
        notify.deliver(escalation_mail(escalation))
    if escalation.webhook_state == WebhookState.PENDING:
        send_escalation_webhook.delay(escalation_id)


def escalation_payload(escalation: Escalation) -> dict:
    incident = escalation.incident
    return {
        "incident": {
            "id": incident.pk,
            "title": incident.title,
            "severity": incident.severity,
            "status": incident.status,
            "model": incident.model.name,
            "environment": incident.environment_name,
            "opened_at": incident.opened_at.isoformat(),
            "serious_category": incident.serious_category,
            "report_deadline": incident.report_deadline.isoformat()
            if incident.report_deadline
            else None,
        },
        "escalation": {
            "id": escalation.pk,
            "reason": escalation.reason,
            "level": escalation.level,
            "group": escalation.group_name,
            "minutes_to_acknowledge": escalation.minutes,
            "notified_at": escalation.notified_at.isoformat(),
        },
    }


def webhook_event(escalation: Escalation) -> str:
    """The webhook's event name: ``incident.escalated`` for an unacknowledged incident,
    ``incident.report_overdue`` for an overdue serious-incident report."""
    if escalation.reason == EscalationReason.REPORT_OVERDUE:
        return "incident.report_overdue"
    return "incident.escalated"


@shared_task(
    bind=True,
    base=RetryingTask,
    name="playbooks.send_escalation_webhook",
    autoretry_for=(requests.RequestException,),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=WEBHOOK_MAX_RETRIES,
)
def send_escalation_webhook(self, escalation_id: int) -> str:
    """POST the signed escalation to GOVREG_ESCALATION_WEBHOOK_URL. Celery retries a
    network error or a non-2xx answer with exponential backoff; the last retry that
    fails marks the escalation failed. Idempotent: a delivered one is not sent again."""
    url = settings.GOVREG_ESCALATION_WEBHOOK_URL
    escalation = Escalation.objects.select_related("incident__model").get(pk=escalation_id)
    if escalation.webhook_state == WebhookState.DELIVERED:
        return WebhookState.DELIVERED
    if not url:
        Escalation.objects.filter(pk=escalation_id).update(
            webhook_state=WebhookState.NOT_CONFIGURED
        )
        return WebhookState.NOT_CONFIGURED
    attempts = escalation.webhook_attempts + 1
    try:
        post_signed(url, webhook_event(escalation), escalation_payload(escalation))
    except requests.RequestException as exc:
        final = self.request.retries >= self.max_retries
        Escalation.objects.filter(pk=escalation_id).update(
            webhook_attempts=attempts,
            webhook_last_error=str(exc)[:1000],
            webhook_state=WebhookState.FAILED if final else WebhookState.PENDING,
        )
        if final:
            log.error("escalation %s webhook failed for good: %s", escalation_id, exc)
            return WebhookState.FAILED
        log.warning("escalation %s webhook attempt %s failed: %s", escalation_id, attempts, exc)
        raise  # autoretry_for retries it
    Escalation.objects.filter(pk=escalation_id).update(
        webhook_attempts=attempts,
        webhook_state=WebhookState.DELIVERED,
        webhook_delivered_at=timezone.now(),
        webhook_last_error="",
    )
    return WebhookState.DELIVERED
