"""The kinds of record a term or tag may be attached to, registered by the apps that own them.

The vocabulary sits below every app whose records it labels, so it never imports them:
each app registers its records in its own ``vocabulary.py`` (imported from
``AppConfig.ready``), saying how a record is scoped (the same ``scope_path`` and
``scope_model`` its API uses with ``accounts.permissions.scope_queryset``) and who may
label it. Lists, the search and the assignments' own list ask ``scope_targets`` so
nobody learns of a record they may not see.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

from accounts.permissions import may, scope_queryset


@dataclass(frozen=True)
class Target:
    kind: str  # the public name, e.g. "model-version"
    label: str  # "app_label.modelname"
    scope_path: str = "pk"
    scope_model: str | None = None
    may_label: Callable | None = None  # (user, obj) -> bool; default: change on the scope
    fields: bool = False  # whether a column of the record (``field``) may be labelled
    title: Callable | None = None  # (obj) -> str; default: str(obj)
    related: tuple[str, ...] = ()  # select_related for the title
    everyone_reads: bool = False  # every signed-in user sees every record (lineage)
    page: Callable | None = None  # (obj) -> the URL of its console page

    @property
    def model(self):
        return apps.get_model(self.label)

    def scoped(self, user, queryset=None):
        """The records of this kind ``user`` may see."""
        queryset = self.model._default_manager.all() if queryset is None else queryset
        if self.everyone_reads:
            return queryset if getattr(user, "is_authenticated", False) else queryset.none()
        scope_model = apps.get_model(self.scope_model) if self.scope_model else None
        return scope_queryset(queryset, user, self.scope_path, scope_model)

    def scope_of(self, obj):
        if self.scope_path in ("", "pk"):
            return obj
        for part in self.scope_path.split("__"):
            obj = getattr(obj, part)
        return obj

    def may_label_record(self, user, obj) -> bool:
        if self.may_label is not None:
            return self.may_label(user, obj)
        return may(user, "change", self.scope_of(obj))

    def describe(self, obj) -> str:
        return self.title(obj) if self.title else str(obj)


_targets: dict[str, Target] = {}


def register_target(kind: str, label: str, **options) -> Target:
    target = Target(kind=kind, label=label.lower(), **options)
    _targets[kind] = target
    return target


def registered_targets() -> list[Target]:
    return sorted(_targets.values(), key=lambda t: t.kind)


def target_kinds() -> list[str]:
    return sorted(_targets)


def target(kind: str) -> Target | None:
    return _targets.get(kind)


def target_of_model(model) -> Target | None:
    label = model._meta.label_lower
    return next((t for t in _targets.values() if t.label == label), None)


def scope_targets(queryset, user, path: str = ""):
    """``queryset`` (of assignments, or of rows pointing at one through ``path``) narrowed
    to those on records ``user`` may see: one subquery per registered kind of record."""
    prefix = f"{path}__" if path else ""
    allowed = Q()
    for spec in _targets.values():
        content_type = ContentType.objects.get_for_model(spec.model)
        allowed |= Q(
            **{
                f"{prefix}content_type": content_type,
                f"{prefix}object_id__in": spec.scoped(user).values("pk"),
            }
        )
    if not _targets:
        return queryset.none()
    return queryset.filter(allowed)
