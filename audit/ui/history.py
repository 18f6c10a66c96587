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

``recent_visible_events(user, since=..., limit=...)`` answers the newest of those
without asking any scope for all its rows: it reads the candidate events in windows
of ``WINDOW`` (newest first) and asks each type's scope only about the ids in the
window, at most ``MAX_WINDOWS`` windows (two queries each), so its cost does not grow
with the number of models or risks.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import CharField, Model, Q, QuerySet
from django.db.models.functions import Cast

from audit.models import AuditEvent

TRAIL_PERMISSION = "audit.view_auditevent"
WINDOW = 200  # candidate events read at once by recent_visible_events
MAX_WINDOWS = 5  # and at most this many windows: 2 * MAX_WINDOWS queries

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


@dataclass
class Recent:
    events: list = field(default_factory=list)
    exhausted: bool = True  # every candidate event was checked (False: stopped early)
    checked: int = 0  # candidate events checked


def _window_condition(user, candidates) -> Q:
    """Who sees which of these candidate events: each type's scope, asked only about
    the ids in the window (an id its type cannot parse names no row)."""
    ids: dict[str, set] = {}
    for object_type, object_id in candidates:
        ids.setdefault(object_type, set()).add(object_id)
    condition = Q(pk__in=[])
    for object_type, texts in ids.items():
        scope = _scopes.get(object_type)
        if scope is None:
            continue
        rows = scope(user)
        pk_field = rows.model._meta.pk
        pks = set()
        for text in texts:
            try:
                pks.add(pk_field.to_python(text))
            except (ValidationError, ValueError, TypeError):
                continue
        if pks:
            # the text match below stays the rule; pk__in only narrows the scope
            condition |= Q(object_type=object_type, object_id__in=_ids(rows.filter(pk__in=pks)))
    return condition


def recent_visible_events(
    user, *, since, limit: int, window: int | None = None, max_windows: int | None = None
) -> Recent:
    """The newest ``limit`` events since ``since`` that ``user`` may see (the same
    events as ``visible_events``), in at most ``2 * max_windows`` queries whatever the
    data size; ``exhausted`` is False when it stopped before checking every event."""
    window = WINDOW if window is None else window
    max_windows = MAX_WINDOWS if max_windows is None else max_windows
    if not getattr(user, "is_authenticated", False):
        return Recent()
    events = AuditEvent.objects.filter(created_at__gte=since)
    if sees_whole_trail(user):
        rows = list(events.order_by("-seq")[:limit])
        return Recent(events=rows, checked=len(rows))
    if not _scopes:
        return Recent()
    events = events.filter(object_type__in=list(_scopes))
    found: list = []
    checked = 0
    before = None
    for _ in range(max_windows):
        page = events if before is None else events.filter(seq__lt=before)
        candidates = list(
            page.order_by("-seq").values_list("seq", "object_type", "object_id")[:window]
        )
        if not candidates:
            return Recent(events=found, checked=checked)
        checked += len(candidates)
        newest, oldest = candidates[0][0], candidates[-1][0]
        condition = _window_condition(user, [(t, i) for _, t, i in candidates])
        found += list(
            events.filter(condition, seq__lte=newest, seq__gte=oldest).order_by("-seq")[
                : limit - len(found)
            ]
        )
        if len(found) >= limit or len(candidates) < window:
            return Recent(events=found, checked=checked)
        before = oldest
    return Recent(events=found, exhausted=False, checked=checked)
