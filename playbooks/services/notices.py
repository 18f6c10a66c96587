"""Incident notices: what the team tells the public about an incident, shown on the
model's public card once published. Publishing is an explicit act; an edit of a
published notice takes it back to draft until it is published again."""

from django.db import transaction
from django.utils import timezone

from accounts.permissions import may
from audit.services import record_decision
from config.errors import Conflict, Refused
from playbooks.choices import NoticeStatus
from playbooks.models import IncidentNotice

__all__ = ["publish_notice", "save_notice", "withdraw_notice"]

NOTICE_FIELDS = ("title", "what_is_known", "what_was_done", "safeguards")


def _may_write(user, incident) -> None:
    if not may(user, "change", incident.model):
        raise Refused("Only the model's team writes and publishes its incidents' notices.")


def save_notice(incident, user, **fields) -> IncidentNotice:
    """Write (or rewrite) the incident's notice; it is a draft until published."""
    _may_write(user, incident)
    with transaction.atomic():
        notice = IncidentNotice.objects.select_for_update().filter(incident=incident).first()
        notice = notice or IncidentNotice(incident=incident)
        for name in NOTICE_FIELDS:
            if name in fields:
                setattr(notice, name, (fields[name] or "").strip())
        notice.status = NoticeStatus.DRAFT
        notice.full_clean()
        notice.save()
    return notice


def _locked(incident) -> IncidentNotice:
    notice = IncidentNotice.objects.select_for_update().filter(incident=incident).first()
    if notice is None:
        raise Conflict("This incident has no notice yet; write one first.", field="notice")
    return notice


def publish_notice(incident, user, *, now=None) -> IncidentNotice:
    _may_write(user, incident)
    with transaction.atomic():
        notice = _locked(incident)
        if notice.status == NoticeStatus.PUBLISHED:
            raise Conflict("The notice is already published.", field="status")
        notice.status = NoticeStatus.PUBLISHED
        notice.published_at = now or timezone.now()
        notice.published_by = user
        notice.save()
        record_decision("notice.publish", notice, incident=incident.pk, title=notice.title)
    return notice


def withdraw_notice(incident, user, *, reason: str = "") -> IncidentNotice:
    _may_write(user, incident)
    with transaction.atomic():
        notice = _locked(incident)
        if notice.status != NoticeStatus.PUBLISHED:
            raise Conflict("The notice is not published.", field="status")
        notice.status = NoticeStatus.WITHDRAWN
        notice.save()
        record_decision("notice.withdraw", notice, incident=incident.pk, reason=reason)
    return notice
