"""Roles and teams. Both are Django groups; a role's group has one of the names below."""

from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.db import models

from config.statements import Statement

GOVREG_APPS = ("audit", "accounts", "vocabulary", "lineage", "registry", "risk", "playbooks")


class Role(models.TextChoices):
    BOARD = "board", "Board member"
    APPROVER = "approver", "Approver"
    ML_ENGINEER = "ml-engineer", "ML engineer"
    AUDITOR = "auditor", "Auditor (read-only, exports)"
    PIPELINE = "pipeline", "Pipeline (service account)"
    ADMIN = "admin", "Administrator"


ROLE_NAMES = frozenset(Role.values)
# Roles that read every record of every team; admin may also change them.
GLOBAL_READ_ROLES = (Role.BOARD, Role.AUDITOR, Role.ADMIN)


def group_names(user) -> tuple[str, ...]:
    """The names of the user's groups (teams and roles), sorted: one statement compiled
    once (``config.statements``), cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return ()
    cached = getattr(user, "_govreg_groups", None)
    if cached is None:
        remember_group_names(user, (name for (name,) in _GROUP_NAMES.all(user=user.pk)))
        cached = user._govreg_groups
    return cached


def remember_group_names(user, names) -> None:
    """What ``group_names`` answers for ``user`` this request, read with the user
    (the bearer token's statement reads them with the token)."""
    user._govreg_groups = tuple(sorted(names))


def roles_of(user) -> frozenset[str]:
    """The user's role names, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_govreg_roles", None)
    if cached is None:
        cached = user._govreg_roles = frozenset(group_names(user)) & ROLE_NAMES
    return cached


_GROUP_NAMES = Statement(
    lambda user: Group.objects.filter(user=user).order_by("name").values_list("name"), user=int
)


def has_role(user, *roles: str) -> bool:
    if getattr(user, "is_superuser", False) and Role.ADMIN in roles:
        return True
    return bool(roles_of(user) & set(roles))


def teams():
    """Every group that is not a role is a team."""
    return Group.objects.exclude(name__in=ROLE_NAMES)


def teams_of(user):
    if not getattr(user, "is_authenticated", False):
        return Group.objects.none()
    return user.groups.exclude(name__in=ROLE_NAMES)


def sync_role_permissions(sender=None, using="default", apps=global_apps, **kwargs):
    """Give the global roles their model permissions over every govreg app.

    Board and auditor read everything; admin may do everything. Runs after
    each migrate, so models added by later migrations are covered too.
    """
    if sender is not None and getattr(sender, "name", None) != "playbooks":
        return  # run once, after the last govreg app has migrated
    perms = Permission.objects.using(using).filter(content_type__app_label__in=GOVREG_APPS)
    view_perms = list(perms.filter(codename__startswith="view_"))
    for role in (Role.BOARD, Role.AUDITOR):
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.add(*view_perms)
    admin, _ = Group.objects.using(using).get_or_create(name=Role.ADMIN)
    identity = Permission.objects.using(using).filter(content_type__app_label="auth")
    admin.permissions.add(*perms, *identity)
