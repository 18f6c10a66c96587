"""Shared pieces of the playbooks services: the conflict error and the timeline."""

from django.utils import timezone

from audit.services import to_json
from config.errors import Conflict, Refused
from playbooks.models import TimelineEntry


class IncidentConflict(Conflict):
    """A state change that the incident's current state does not allow."""


class NotAllowed(Refused):
    """The user may see the record but a decision right does not let them do this."""


def actor_name(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "system"
    return user.get_username()


def add_entry(incident, kind, message, *, user=None, data=None, signal=None, at=None):
    """Append one line to the incident's timeline (in the caller's transaction)."""
    return TimelineEntry.objects.create(
        incident=incident,
        kind=kind,
        message=message,
        actor=user if getattr(user, "is_authenticated", False) else None,
        actor_name=actor_name(user),
        data=to_json(data or {}),
        signal=signal,
        at=at or timezone.now(),
    )
