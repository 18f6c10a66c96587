"""Template filters for audit events on the console's pages."""

from django import template

register = template.Library()

SHOWN_FIELDS = 6
HIDDEN = {"updated_at", "created_at"}


@register.filter
def changed_fields(event) -> str:
    """The names of what an event changed: the fields whose value differs between
    ``before`` and ``after`` (an update), or the fields it recorded (a create, a
    decision), at most six, as text."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    if before and after:
        names = [k for k in after if k not in HIDDEN and before.get(k) != after.get(k)]
    else:
        names = [k for k in (after or before) if k not in HIDDEN]
    shown = ", ".join(names[:SHOWN_FIELDS])
    return f"{shown} …" if len(names) > SHOWN_FIELDS else shown


LABEL_KEYS = ("name", "title", "version", "username")


@register.filter
def object_label(event) -> str:
    """A readable name for the event's object: its type and id, and the name or title
    the event recorded, if any (``registry.mlmodel #3 loan-default``)."""
    label = f"{event.object_type} #{event.object_id}"
    for recorded in (event.after, event.before):
        if isinstance(recorded, dict):
            for key in LABEL_KEYS:
                value = recorded.get(key)
                if isinstance(value, str) and value.strip():
                    return f"{label} {value.strip()[:60]}"
    return label
