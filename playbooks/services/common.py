"""Shared pieces of the playbooks services: the conflict error and the timeline."""

from django.utils import timezone

from audit.services import to_json
from playbooks.models import TimelineEntry


class IncidentConflict(Exception):
    """A state change that the incident's current state does not allow (answered as 409)."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(IncidentConflict):
    """The user may see the record but a decision right does not let them do this (403)."""

    status = 403
    code = "permission_denied"


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
