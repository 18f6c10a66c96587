"""Timeline lines written together: the lines one act adds at once (opening an
incident: opened, playbook started, the signal, level 1 notified) go into one
INSERT with one ``incident.timeline`` audit event that pins every row
(``rows_digest``), instead of an insert and an audit event per line."""

from django.utils import timezone

from audit.services import to_json
from audit.tracking import rows_digest
from playbooks.models import TimelineEntry
from playbooks.services.common import Trail, actor_name


class Lines:
    """Collects lines; ``add`` has the signature of ``common.add_entry``."""

    def __init__(self):
        self.entries: list[TimelineEntry] = []

    def add(self, incident, kind, message, *, user=None, data=None, signal=None, at=None):
        entry = TimelineEntry(
            incident=incident,
            kind=kind,
            message=message,
            actor=user if getattr(user, "is_authenticated", False) else None,
            actor_name=actor_name(user),
            data=to_json(data or {}),
            signal=signal,
            at=at or timezone.now(),
        )
        self.entries.append(entry)
        return entry

    def write(self, incident, trail: Trail | None = None) -> list[TimelineEntry]:
        """Insert the collected lines of ``incident`` in order, audited as one event
        (in ``trail``, the act's events, when given; else at once)."""
        if not self.entries:
            return []
        return self.record(incident, TimelineEntry.objects.bulk_create(self.entries), trail)

    def record(self, incident, created: list[TimelineEntry], trail: Trail | None = None):
        """Audit the collected lines once inserted (``created``: ``entries`` with their
        ids, inserted by the caller together with other rows)."""
        own = trail is None
        trail = Trail() if own else trail
        trail.add(
            "incident.timeline",
            obj=incident,
            after={
                "entries": [entry.pk for entry in created],
                "kinds": [entry.kind for entry in created],
                "rows_sha256": rows_digest(created),
            },
        )
        if own:
            trail.write()
        self.entries = []
        return created
