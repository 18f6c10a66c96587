"""Celery tasks of the playbooks app. Each takes ids, has a stable name and is
idempotent: running it twice notifies nobody twice."""

import logging
from datetime import timedelta

import requests
from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.context import acting_as
from playbooks.choices import EscalationReason, Triage, WebhookState
from playbooks.models import Escalation, Signal
from playbooks.services import escalation as escalation_service
from playbooks.services import regulatory
from playbooks.services import triage as triage_service
from playbooks.services.notify import send
from playbooks.webhooks import post_signed

log = logging.getLogger(__name__)

WEBHOOK_MAX_RETRIES = 5


def _now(now: str | None):
    return parse_datetime(now) if now else timezone.now()


@shared_task(name="playbooks.escalate_incidents")
def escalate_incidents(now: str | None = None) -> list[int]:
    """From beat every minute: escalate unacknowledged incidents whose time ran out."""
    with acting_as(name="escalation"):
        return [e.pk for e in escalation_service.escalate_due(now=_now(now))]


@shared_task(name="playbooks.regulatory_deadline_warnings")
def regulatory_deadline_warnings(now: str | None = None) -> dict[str, list[int]]:
    """From beat hourly: warn owners of serious incidents whose report is due soon, and
    escalate those whose report is overdue through their playbook's chain (each once).
    Returns the ids of the incidents warned and escalated by this run."""
    when = _now(now)
    with acting_as(name="regulatory-clock"):
        return {
            "warned": regulatory.warn_due(now=when),
            "escalated": regulatory.escalate_overdue(now=when),
        }


@shared_task(name="playbooks.notify_escalation")
def notify_escalation(escalation_id: int) -> None:
    """E-mail the level's group (once: ``emailed_at`` is claimed by a conditional
    UPDATE), then hand the webhook to its own retrying task."""
    now = timezone.now()
    claimed = Escalation.objects.filter(pk=escalation_id, emailed_at__isnull=True).update(
        emailed_at=now
    )
    escalation = Escalation.objects.select_related("incident__model").get(pk=escalation_id)
    if claimed:
        incident = escalation.incident
        if escalation.reason == EscalationReason.REPORT_OVERDUE:
            subject = f"[govreg] Regulatory report overdue: #{incident.pk} {incident.title}"
            body = (
                f"Incident #{incident.pk} on model {incident.model.name} is a serious incident "
                f"({incident.get_serious_category_display()}). Its report to the market "
                f"surveillance authority was due {incident.report_deadline:%Y-%m-%d %H:%M} UTC "
                "and has not been recorded as sent.\n"
                f"Your group {escalation.group_name} is level {escalation.level} of the "
                "incident's escalation chain."
            )
        else:
            subject = f"[govreg] Escalation level {escalation.level}: {incident.title}"
            body = (
                f"Incident #{incident.pk} on model {incident.model.name} ({incident.severity}) "
                f"has not been acknowledged.\nYour group {escalation.group_name} has "
                f"{escalation.minutes} minutes to acknowledge it."
            )
        send(subject, body, escalation.recipients)
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
    name="playbooks.send_escalation_webhook",
    max_retries=WEBHOOK_MAX_RETRIES,
)
def send_escalation_webhook(self, escalation_id: int) -> str:
    """POST the signed escalation to GOVREG_ESCALATION_WEBHOOK_URL; retried with
    exponential backoff on network errors and non-2xx answers only."""
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
        if self.request.is_eager:
            # Embedded mode has no broker to wait on: try again in-process at once.
            return self.apply(args=(escalation_id,), retries=self.request.retries + 1).result
        raise self.retry(exc=exc, countdown=min(2 ** (self.request.retries + 1) * 5, 600))
    Escalation.objects.filter(pk=escalation_id).update(
        webhook_attempts=attempts,
        webhook_state=WebhookState.DELIVERED,
        webhook_delivered_at=timezone.now(),
        webhook_last_error="",
    )
    return WebhookState.DELIVERED


# --- signal triage ---------------------------------------------------------------------

TRIAGE_TASK_SIZE = 1000  # signal ids per task message
# A signal still waiting this long after it arrived lost its task (a broker hiccup,
# a crash between commit and enqueue): the sweep triages it.
TRIAGE_GRACE = timedelta(minutes=2)


def enqueue_triage(signal_ids: list[int], user_id: int | None, request_id: str = "") -> None:
    """Queue the triage of stored signals, ``TRIAGE_TASK_SIZE`` ids per task (called on
    commit of the insert; in the embedded default the tasks run at once, in order)."""
    for start in range(0, len(signal_ids), TRIAGE_TASK_SIZE):
        triage_signals.delay(signal_ids[start : start + TRIAGE_TASK_SIZE], user_id, request_id)


@shared_task(
    name="playbooks.triage_signals",
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=8,
)
def triage_signals(signal_ids: list[int], user_id: int | None = None, request_id: str = "") -> int:
    """Triage received signals in short transactions (``triage.triage_received``), as the
    sender, under the request id of the delivery. Idempotent: a signal already triaged
    is skipped, so a retry or a redelivery triages nothing twice."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    with acting_as(user, name="triage", request_id=request_id or None):
        return len(triage_service.triage_received(signal_ids))


@shared_task(name="playbooks.triage_pending")
def triage_pending(limit: int = 20000) -> int:
    """From beat every minute: triage signals still waiting after ``TRIAGE_GRACE``."""
    cutoff = timezone.now() - TRIAGE_GRACE
    ids = list(
        Signal.objects.filter(triage=Triage.RECEIVED, received_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    with acting_as(name="triage-sweep"):
        return len(triage_service.triage_received(ids))
