"""The audit trail as the console's pages read it: one object's history, and the
events a user may see.

An object page shows its history with one call and one include::

    from audit.ui.history import history

    context["history"] = history(model, model.versions.all(), limit=25)
    {% include "audit/ui/_history.html" with history=history %}

``history(*targets)`` takes model instances and querysets (every row of a queryset
counts) and answers one query: their events, newest first, at most ``limit``.
The page must already have checked that the user may see those objects.

Who sees which events elsewhere (the home page's "changes since my last visit"):
holders of ``audit.view_auditevent`` (auditor, board, admin) see the whole trail;
anyone else sees only events of objects they may view, for the object types whose
app registered how to find those (deny by default)::

    from audit.ui.history import event_scope

    @event_scope("registry.mlmodel")
    def models(user):
        return scope_queryset(MLModel.objects.all(), user)  # a queryset of visible rows
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import CharField, Model, Q, QuerySet
from django.db.models.functions import Cast

from audit.models import AuditEvent

TRAIL_PERMISSION = "audit.view_auditevent"

_scopes: dict[str, Callable] = {}


def event_scope(object_type: str):
    """Register ``func(user) -> queryset`` of the ``object_type`` rows ``user`` may view."""

    def decorator(func):
        _scopes[object_type] = func
        return func

    return decorator


def _ids(queryset: QuerySet):
    """The rows' primary keys as text (``AuditEvent.object_id`` is text), a subquery."""
    return queryset.order_by().annotate(_audit_id=Cast("pk", CharField())).values("_audit_id")


def _label(model) -> str:
    return model._meta.label_lower


def target_q(*targets) -> Q:
    """Events of these instances and of every row of these querysets."""
    condition = Q(pk__in=[])
    for target in targets:
        if isinstance(target, QuerySet):
            condition |= Q(object_type=_label(target.model), object_id__in=_ids(target))
        elif isinstance(target, Model):
            condition |= Q(object_type=_label(type(target)), object_id=str(target.pk))
        else:
            raise TypeError(f"history() takes model instances and querysets, not {target!r}")
    return condition


@dataclass
class History:
    events: list = field(default_factory=list)
    more: bool = False  # there are older events than those listed
    empty: str = "No recorded change."


def history(*targets, limit: int = 25) -> History:
    """The newest ``limit`` events of the targets (instances and querysets), one query."""
    rows = list(AuditEvent.objects.filter(target_q(*targets)).order_by("-seq")[: limit + 1])
    return History(events=rows[:limit], more=len(rows) > limit)


def sees_whole_trail(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(TRAIL_PERMISSION))


def visible_events(user, queryset=None) -> QuerySet:
    """The events ``user`` may see: all of them for auditors, board and admins; else
    the events of objects of a registered type that the user may view."""
    queryset = AuditEvent.objects.all() if queryset is None else queryset
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    if sees_whole_trail(user):
        return queryset
    condition = Q(pk__in=[])
    for object_type, scope in _scopes.items():
        condition |= Q(object_type=object_type, object_id__in=_ids(scope(user)))
    return queryset.filter(condition)
