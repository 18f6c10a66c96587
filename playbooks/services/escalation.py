"""Escalation: while nobody acknowledges an open incident, each level of its
playbook's chain gets its minutes, then the next level is notified (e-mail and
a signed webhook, sent by ``notify`` after the commit). Exactly once per level,
even when two workers race: the incident's level moves by a conditional UPDATE
that must change one row, and the Escalation row's (incident, level) constraint backs it up."""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.statements import Statement
from playbooks.choices import EscalationReason, IncidentStatus, TimelineKind, WebhookState
from playbooks.models import Escalation, Incident
from playbooks.services.common import Trail, add_entry
from playbooks.services.notify import group_emails, tell_level

log = logging.getLogger(__name__)


# compiled once (config.statements): every level told looks its group up by name
_GROUP = Statement(lambda name: Group.objects.filter(name=name).order_by("pk")[:1], name=str)


def _create_level(
    incident: Incident,
    number: int,
    now,
    *,
    level: dict | None = None,
    reason: str = EscalationReason.UNACKNOWLEDGED,
    add=add_entry,
    trail: Trail,
    defer: list | None = None,
) -> Escalation:
    """Store level ``number``'s row (its ``create`` event in ``trail``), add its timeline
    line and have it told after the commit. With ``defer``, the row is appended there
    unsaved instead: the caller inserts it (with other rows, in one round trip) and
    records its ``create`` event."""
    level = level or incident.playbook_version.level(number)
    group = _GROUP.first(name=level["group"])
    escalation = Escalation(
        incident=incident,
        reason=reason,
        level=number,
        group=group,
        group_name=level["group"],
        minutes=level["minutes"],
        notified_at=now,
        recipients=group_emails(group),
        webhook_state=(
            WebhookState.PENDING
            if settings.GOVREG_ESCALATION_WEBHOOK_URL
            else WebhookState.NOT_CONFIGURED
        ),
    )
    if defer is None:
        Escalation.objects.bulk_create([escalation])
        trail.created(escalation)
    else:
        defer.append(escalation)
    message = (
        f"Level {number} ({level['group']}) notified; {level['minutes']} min to acknowledge."
        if reason == EscalationReason.UNACKNOWLEDGED
        else f"Level {number} ({level['group']}) notified: the serious-incident report is overdue."
    )
    add(
        incident,
        TimelineKind.ESCALATION,
        message,
        at=now,
        data={
            "level": number,
            "group": level["group"],
            "recipients": escalation.recipients,
            "reason": reason,
        },
    )
    tell_level(escalation)
    return escalation


def escalate_report_overdue(incident: Incident, *, now) -> list[Escalation]:
    """Notify every level of the incident's chain at once that its serious-incident
    report is overdue (the time to step through the levels has run out); without a
    playbook chain, the model's owning team. The caller claims the incident first
    (``regulatory.escalate_overdue``), so this runs once per incident."""
    version = incident.playbook_version
    chain = list(version.escalation_chain) if version is not None else []
    levels = chain or [{"group": incident.model.team.name, "minutes": 0}]
    trail = Trail()
    escalations = [
        _create_level(
            incident,
            number,
            now,
            level={"group": level["group"], "minutes": 0},
            reason=EscalationReason.REPORT_OVERDUE,
            trail=trail,
        )
        for number, level in enumerate(levels, start=1)
    ]
    trail.write()
    return escalations


def notify_first_level(
    incident: Incident, *, now, add=add_entry, trail: Trail, defer: list | None = None
) -> Escalation:
    """Notify level 1 of a newly opened incident (called inside ``open_incident``, which
    stores the new incident at level 1 of its chain; ``add`` writes the timeline line,
    ``trail`` takes the audit event; ``defer``: as ``_create_level``)."""
    return _create_level(incident, 1, now, add=add, trail=trail, defer=defer)


def due_for_escalation(incident: Incident, now) -> bool:
    version = incident.playbook_version
    if version is None or incident.status != IncidentStatus.OPEN:
        return False
    current = version.level(incident.escalation_level)
    if current is None or version.level(incident.escalation_level + 1) is None:
        return False
    return incident.level_started_at + timedelta(minutes=current["minutes"]) <= now


def escalate(incident_id: int, from_level: int, *, now=None) -> Escalation | None:
    """Move one incident from ``from_level`` to the next, or do nothing if someone
    else already did (or it was acknowledged meanwhile). Returns the new level's row."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            changed = Incident.objects.filter(
                pk=incident_id, status=IncidentStatus.OPEN, escalation_level=from_level
            ).update(escalation_level=from_level + 1, level_started_at=now)
            if changed != 1:
                return None
            incident = Incident.objects.select_related("playbook_version").get(pk=incident_id)
            trail = Trail()
            escalation = _create_level(incident, from_level + 1, now, trail=trail)
            trail.decision(
                "incident.escalate",
                incident,
                from_level=from_level,
                to_level=from_level + 1,
                group=escalation.group_name,
                reason=f"not acknowledged within level {from_level}'s minutes",
            )
            trail.write()
            return escalation
    except IntegrityError:
        log.info("incident %s level %s already escalated elsewhere", incident_id, from_level + 1)
        return None


def escalate_due(*, now=None) -> list[Escalation]:
    """Escalate every open incident whose current level's minutes have run out."""
    now = now or timezone.now()
    candidates = Incident.objects.filter(
        status=IncidentStatus.OPEN,
        escalation_level__gte=1,
        playbook_version__isnull=False,
        level_started_at__lte=now,
    ).select_related("playbook_version")
    done = []
    for incident in candidates:
        if due_for_escalation(incident, now):
            escalation = escalate(incident.pk, incident.escalation_level, now=now)
            if escalation is not None:
                done.append(escalation)
    return done
