"""The one place that decides who may see and change what.

Records owned by a team carry django-guardian object permissions granted to
that team's group. Listing goes through ``ObjectPermissionFilter`` (an
``id__in`` subquery over guardian's tables, so one query per page, not per
row); a detail outside the user's scope is a 404, never a 403.
"""

from django.contrib.auth.models import Group
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, get_objects_for_user
from rest_framework import permissions
from rest_framework.filters import BaseFilterBackend

from accounts.models import ApiToken
from accounts.roles import Role, has_role, teams, teams_of

TEAM_PERMS = ("view", "change", "delete")


def perm_name(model, action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def grant_team_access(obj, team: Group, actions=TEAM_PERMS) -> None:
    """Give the owning team's group its object permissions on ``obj``."""
    for action in actions:
        assign_perm(perm_name(type(obj), action), team, obj)


def visible(queryset, user, action: str = "view"):
    """``queryset`` narrowed to the rows ``user`` may ``action`` (global roles see all)."""
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    return get_objects_for_user(
        user, perm_name(queryset.model, action), klass=queryset, accept_global_perms=True
    )


def may(user, action: str, obj) -> bool:
    """Global permission, or an object permission on ``obj`` (for itself or via its team)."""
    name = perm_name(type(obj), action)
    return user.has_perm(name) or user.has_perm(name, obj)


def held_object_perms(user) -> frozenset[tuple[str, str]]:
    """``(app_label, codename)`` of every object permission ``user`` holds on some record,
    for themselves or through a group: two queries, cached on the user for the request."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_govreg_object_perms", None)
    if cached is None:
        fields = ("content_type__app_label", "permission__codename")
        own = UserObjectPermission.objects.filter(user=user).values_list(*fields)
        shared = GroupObjectPermission.objects.filter(group__user=user).values_list(*fields)
        cached = frozenset(own.distinct()) | frozenset(shared.distinct())
        user._govreg_object_perms = cached
    return cached


def may_any(user, action: str, model) -> bool:
    """Whether ``user`` may ``action`` some ``model`` record: globally (a role) or by an
    object permission. ``may`` answers for one record; this says whether to offer at all."""
    if user.has_perm(perm_name(model, action)):
        return True
    return (model._meta.app_label, f"{action}_{model._meta.model_name}") in held_object_perms(user)


def may_create_in_team(user, team: Group) -> bool:
    if user.is_superuser or has_role(user, Role.ADMIN):
        return True
    return teams_of(user).filter(pk=team.pk).exists()


def teams_to_create_in(user):
    """The teams ``may_create_in_team`` allows ``user``: every team for admins, else theirs."""
    if user.is_superuser or has_role(user, Role.ADMIN):
        return teams()
    return teams_of(user)


def follow(obj, path: str):
    """Walk a ``a__b`` lookup path from ``obj``; ``pk`` (or empty) is the object itself."""
    if path in ("", "pk"):
        return obj
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj


class TokenScopePermission(permissions.BasePermission):
    """A read-only token may only read."""

    message = "This API token is read-only."

    def has_permission(self, request, view):
        token = request.auth
        if isinstance(token, ApiToken) and token.read_only:
            return request.method in permissions.SAFE_METHODS
        return True


class ObjectActionPermission(permissions.BasePermission):
    """Changes need the change (or delete) permission on the scoping object."""

    message = "You may see this record but not change it."

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        action = "delete" if request.method == "DELETE" else "change"
        scope_obj = follow(obj, getattr(view, "scope_path", "pk"))
        return may(request.user, action, scope_obj)


def scope_queryset(queryset, user, path: str = "pk", scope_model=None, action: str = "view"):
    """``queryset`` narrowed to the rows whose scoping object (reached by ``path``, a
    ``scope_model``) ``user`` may ``action``. The API's filter and the admin both ask this."""
    if path in ("", "pk"):
        return visible(queryset, user, action)
    allowed = visible(scope_model._default_manager.all(), user, action)
    return queryset.filter(**{f"{path}__in": allowed.values("pk")})


class ObjectPermissionFilter(BaseFilterBackend):
    """Scope every list and detail to what the user may view."""

    def filter_queryset(self, request, queryset, view):
        path = getattr(view, "scope_path", "pk")
        return scope_queryset(queryset, request.user, path, getattr(view, "scope_model", None))


def user_can_write_lineage(user) -> bool:
    return user.is_superuser or has_role(user, Role.PIPELINE, Role.ML_ENGINEER, Role.ADMIN)
