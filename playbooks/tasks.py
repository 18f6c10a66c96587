"""Celery tasks of the playbooks app. Each takes ids, has a stable name and is
idempotent: running it twice notifies nobody twice."""

import logging
from datetime import timedelta

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.context import acting_as
from playbooks.choices import Triage
from playbooks.models import Signal
from playbooks.services import escalation as escalation_service
from playbooks.services import heartbeats, regulatory
from playbooks.services import triage as triage_service
from playbooks.services.notify import (  # noqa: F401 (registered with the tasks)
    WEBHOOK_MAX_RETRIES,
    notify_escalation,
    send_escalation_webhook,
)

log = logging.getLogger(__name__)


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


@shared_task(name="playbooks.detect_silent_monitors", autoretry_for=(OperationalError,),
             retry_backoff=5, max_retries=3)  # fmt: skip
def detect_silent_monitors(now: str | None = None) -> list[int]:
    """From beat every minute: raise one ``monitor-silent`` signal per threshold whose
    monitor stopped reporting (each silence once, however many beats or workers run).
    Returns the ids of the signals this run raised."""
    with acting_as(name="heartbeat"):
        return heartbeats.detect_silent(now=_now(now))


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
