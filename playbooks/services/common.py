"""Shared pieces of the playbooks services: the conflict error, the timeline and the
audit events of one act."""

from django.utils import timezone

from audit.services import record_many, to_json
from audit.tracking import snapshot
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


class Trail:
    """The audit events of one act, appended together when it ends (``write``): one
    round trip and one take of the chain's lock instead of one per event, held from
    the act's last statement to its commit. Rows the act bulk-inserts (no ``post_save``)
    are recorded here with the same ``create`` and ``m2m.add`` events
    ``audit.tracking`` writes for a ``save()`` or an ``add()``."""

    def __init__(self):
        self.events: list[dict] = []

    def add(self, action: str, **details) -> None:
        """An event with ``audit.services.record``'s keyword arguments."""
        self.events.append({"action": action, **details})

    def decision(self, action: str, obj, **details) -> None:
        """As ``audit.services.record_decision``."""
        self.add(action, obj=obj, after=details or None)

    def created(self, obj) -> None:
        self.add("create", obj=obj, after=snapshot(obj))

    def linked(self, obj, field_name: str, related: list) -> None:
        """``related`` rows added to ``obj``'s many-to-many ``field_name``."""
        field = obj._meta.get_field(field_name)
        model = field.related_model
        detail = {
            "relation": field.remote_field.through._meta.model_name,
            "model": model._meta.label_lower,
            "ids": sorted(row.pk for row in related),
        }
        if any(f.name == "name" for f in model._meta.concrete_fields):
            detail["names"] = sorted(row.name for row in related)
        self.add("m2m.add", obj=obj, after=detail)

    def write(self) -> None:
        if self.events:
            record_many(self.events)
        self.events = []
