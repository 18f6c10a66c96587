"""The one place that decides who may see and change what.

Two questions, one function each, for every API view, board page and admin:

- ``scope_queryset(queryset, user, path, scope_model, action)``: the rows ``user``
  may ``action``. Records owned by a team carry django-guardian object permissions
  granted to that team's group; a child record is scoped through the record that
  carries them (``path``, e.g. ``"model"`` for a model version). Listing is an
  ``id__in`` subquery over guardian's tables, so one query per page, not per row;
  a detail outside the scope is a 404, never a 403.
- ``may(user, action, obj)`` for one record and ``may_any(user, action, model)`` for
  "some record of this kind" (whether to offer a form, or a role-wide right such as
  writing lineage). Both answer from what the user holds, looked up once per request
  (one query per record for ``may``, kept on the user object).

Actions are Django's (``view``, ``add``, ``change``, ``delete``) or a model's own
(``approve``); a tuple of actions means "any of them". A few rights are not a
Django permission but a rule over the record (who may ask the gate, who reports a
deployment's outcome): they are in ``RULES`` below, keyed by model and action, and
``may`` answers them like any other. Roles that grant an action on every record of
a model are in ``ROLE_GRANTS``.

Decision rights and separation of duties are domain rules and stay in their
services (``registry.gate.decisions.can_approve``, ``risk.services.can_decide_acceptance``):
they answer ``(allowed, reason)`` and ask ``may`` for the permission part. Naming:
``may*`` is a permission (a bool, here); ``can_*`` is a decision right (in a service).
"""

from collections.abc import Callable

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, OuterRef, Q, Subquery
from django.db.models.functions import Cast
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, get_objects_for_user
from rest_framework import permissions
from rest_framework.filters import BaseFilterBackend

from accounts.models import ApiToken
from accounts.roles import Role, has_role, teams, teams_of
from config.sql import JSONArray
from config.statements import Statement

TEAM_PERMS = ("view", "change", "delete")

# Roles that hold an action on every record of a model, beside Django's permissions
# (superusers count as admins). Everything else comes from model or object permissions.
ROLE_GRANTS: dict[str, tuple[str, ...]] = {
    # lineage writes (OpenLineage events, batches, DVC imports)
    "lineage.add_lineageevent": (Role.PIPELINE, Role.ML_ENGINEER, Role.ADMIN),
    # quarantine or revoke a dataset version, edit its notes; the board only reads
    "lineage.change_datasetversion": (Role.ML_ENGINEER, Role.ADMIN),
    # send signals (plain JSON or Alertmanager's webhook)
    "playbooks.add_signal": (Role.PIPELINE, Role.ADMIN),
    # the risk matrices and required evaluations are the admins' to change
    **{
        f"risk.{action}_{model}": (Role.ADMIN,)
        for model in ("riskmatrix", "requiredevaluation")
        for action in ("add", "change", "delete")
    },
}


def perm_name(model, action: str) -> str:
    """``app_label.action_modelname`` of a model class, an instance or a label."""
    if isinstance(model, str):
        app_label, model_name = model.lower().split(".", 1)
        return f"{app_label}.{action}_{model_name}"
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def grant_team_access(obj, team: Group, actions=TEAM_PERMS) -> None:
    """Give the owning team's group its object permissions on ``obj``."""
    for action in actions:
        assign_perm(perm_name(type(obj), action), team, obj)


def _actions(action) -> tuple[str, ...]:
    return (action,) if isinstance(action, str) else tuple(action)


# --- scoping --------------------------------------------------------------------------


def visible(queryset, user, action="view"):
    """``queryset`` narrowed to the rows ``user`` may ``action`` themselves (global
    roles see all): ``scope_queryset`` with the record as its own scoping object."""
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    actions = _actions(action)
    if len(actions) > 1:
        allowed = Q()
        for name in actions:
            allowed |= Q(pk__in=visible(queryset, user, name).values("pk"))
        return queryset.filter(allowed)
    return get_objects_for_user(
        user, perm_name(queryset.model, actions[0]), klass=queryset, accept_global_perms=True
    )


def scope_queryset(queryset, user, path="pk", scope_model=None, action="view"):
    """``queryset`` narrowed to the rows whose scoping object ``user`` may ``action``.

    ``path`` leads from the listed model to the scoping object (a ``scope_model``);
    a dict ``{path: scope_model}`` names alternatives, a row being in scope through
    any of them (an action item belongs to a review's model or a drill's playbook).
    Whoever holds the action globally on the listed model (board, auditor, admin for
    ``view``) sees every row, rows with no scoping object too. The API's filter, the
    gate, the board's pages and the admin all ask this.
    """
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    paths = path if isinstance(path, dict) else {path: scope_model}
    if list(paths) in (["pk"], [""]):
        return visible(queryset, user, action)
    if any(user.has_perm(perm_name(queryset.model, name)) for name in _actions(action)):
        return queryset
    allowed = Q()
    for lookup, model in paths.items():
        for name in _actions(action):
            scope = visible(model._default_manager.all(), user, name)
            allowed |= Q(**{f"{lookup}__in": scope.values("pk")})
    return queryset.filter(allowed)


def follow(obj, path):
    """The scoping object of ``obj``: walk an ``a__b`` lookup path (``pk`` or empty is
    the object itself); of a dict of alternatives, the first that leads somewhere."""
    for lookup in path if isinstance(path, dict) else (path,):
        target = obj
        for part in lookup.split("__") if lookup not in ("", "pk") else ():
            target = getattr(target, part)
            if target is None:
                break
        if target is not None:
            return target
    return None


# --- predicates -----------------------------------------------------------------------


# Bumped whenever an object permission or a group membership changes in this process, so
# answers cached on a user object (kept for one request) never outlive a grant.
_grants = {"generation": 0}


def grants_changed(**kwargs) -> None:
    """Signal receiver: forget the object permissions cached on user objects."""
    _grants["generation"] += 1


def _held_cache(user) -> dict:
    cached = user.__dict__.get("_govreg_held")
    if cached is None or cached[0] != _grants["generation"]:
        cached = user.__dict__["_govreg_held"] = (_grants["generation"], {})
    return cached[1]


def _held_on(user, obj) -> frozenset[str]:
    """The codenames ``user`` holds on ``obj``'s model globally or on ``obj`` itself, for
    themselves or through a group: one query (a union of Django's and guardian's four
    tables), kept on the user object (one per request) until a grant changes, so a
    record is looked up once per request, not once per question."""
    cached = _held_cache(user)
    content_type = ContentType.objects.get_for_model(obj)
    key = (content_type.pk, str(obj.pk))
    if key not in cached:
        rows = _HELD_ON.all(content_type=content_type.pk, user=user.pk, object_pk=key[1])
        cached[key] = frozenset(codename for (codename,) in rows)
    return cached[key]


_HELD_WITH_ROW = ("_held_own", "_held_shared", "_held_own_object", "_held_shared_object")


def with_held(queryset, user):
    """``queryset`` with what ``user`` (an id) holds on each row read with it: the four
    sources ``_held_on`` reads (global and object permissions, the user's own and their
    groups'), as annotations. ``remember_held(user, row)`` then keeps them for ``may``,
    so a hot read of one record and its rights is one query, not two."""
    content_type = ContentType.objects.get_for_model(queryset.model)
    of_type = Permission.objects.filter(content_type=content_type).order_by()
    row = Cast(OuterRef("pk"), CharField())
    sources = (
        of_type.filter(user=user),
        of_type.filter(group__user=user),
        of_type.filter(userobjectpermission__user=user, userobjectpermission__object_pk=row),
        of_type.filter(
            groupobjectpermission__group__user=user, groupobjectpermission__object_pk=row
        ),
    )
    return queryset.annotate(
        **{
            name: Subquery(
                source.values("content_type").annotate(names=JSONArray("codename")).values("names")
            )
            for name, source in zip(_HELD_WITH_ROW, sources, strict=True)
        }
    )


def remember_held(user, obj) -> None:
    """Keep for this request what ``user`` holds on ``obj``, read with it (``with_held``
    for this user), as ``_held_on`` would have read it."""
    held = frozenset(name for source in _HELD_WITH_ROW for name in getattr(obj, source) or ())
    _held_cache(user)[(ContentType.objects.get_for_model(obj).pk, str(obj.pk))] = held


def _held_on_query(content_type, user, object_pk):
    of_type = Permission.objects.filter(content_type=content_type).order_by()
    own = of_type.filter(user=user)
    shared = of_type.filter(group__user=user)
    own_object = of_type.filter(
        userobjectpermission__user=user, userobjectpermission__object_pk=object_pk
    )
    shared_object = of_type.filter(
        groupobjectpermission__group__user=user, groupobjectpermission__object_pk=object_pk
    )
    return own.values_list("codename").union(
        *(q.values_list("codename") for q in (shared, own_object, shared_object))
    )


# compiled once (config.statements): asked on nearly every write and detail read
_HELD_ON = Statement(_held_on_query, content_type=int, user=int, object_pk=str)


def _role_grants(user, name: str) -> bool:
    roles = ROLE_GRANTS.get(name)
    return bool(roles) and has_role(user, *roles)


def _holds(user, action: str, obj) -> bool:
    name = perm_name(type(obj), action)
    if _role_grants(user, name):
        return True
    if not user.is_active:
        return False
    return user.is_superuser or name.split(".", 1)[1] in _held_on(user, obj)


Rule = Callable[[object, object], bool]
RULES: dict[tuple[str, str], Rule] = {}


def rule(label: str, action: str):
    """Register the rule ``may(user, action, obj)`` follows for records of ``label``."""

    def register(function: Rule) -> Rule:
        RULES[(label, action)] = function
        return function

    return register


def may(user, action, obj) -> bool:
    """Whether ``user`` may ``action`` (or any of a tuple of actions) on ``obj``: a rule
    for this model and action, else a role grant, a global or an object permission
    (for the user or through one of their groups)."""
    if obj is None or not getattr(user, "is_authenticated", False):
        return False
    for name in _actions(action):
        custom = RULES.get((obj._meta.label_lower, name))
        if custom(user, obj) if custom is not None else _holds(user, name, obj):
            return True
    return False


def held_object_perms(user) -> frozenset[tuple[str, str]]:
    """``(app_label, codename)`` of every object permission ``user`` holds on some record,
    for themselves or through a group: two queries, cached on the user for the request."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = user.__dict__.get("_govreg_object_perms")
    if cached is None or cached[0] != _grants["generation"]:
        fields = ("content_type__app_label", "permission__codename")
        own = UserObjectPermission.objects.filter(user=user).values_list(*fields)
        shared = GroupObjectPermission.objects.filter(group__user=user).values_list(*fields)
        held = frozenset(own.distinct()) | frozenset(shared.distinct())
        cached = user.__dict__["_govreg_object_perms"] = (_grants["generation"], held)
    return cached[1]


def may_any(user, action, model) -> bool:
    """Whether ``user`` may ``action`` some record of ``model`` (a class or an
    ``"app_label.model"`` label): by a role grant, a global permission or an object
    permission on at least one. ``may`` answers for one record; this says whether to
    offer at all, or answers a role-wide right (writing lineage, sending signals)."""
    if not getattr(user, "is_authenticated", False):
        return False
    for name in _actions(action):
        full = perm_name(model, name)
        if _role_grants(user, full) or user.has_perm(full):
            return True
        if tuple(full.split(".", 1)) in held_object_perms(user):
            return True
    return False


def may_create_in_team(user, team: Group) -> bool:
    """Whether ``user`` may create a team-owned record for ``team``: its members, and admins."""
    if user.is_superuser or has_role(user, Role.ADMIN):
        return True
    return teams_of(user).filter(pk=team.pk).exists()


def teams_to_create_in(user):
    """The teams ``may_create_in_team`` allows ``user``: every team for admins, else theirs."""
    if user.is_superuser or has_role(user, Role.ADMIN):
        return teams()
    return teams_of(user)


# --- rules: rights that are not one Django permission ----------------------------------


@rule("registry.deploymentrequest", "view")
def _see_deployment_request(user, deployment_request) -> bool:
    """A request is seen by whoever sees its model (team, board, auditor, admin) or
    holds the approve right on it."""
    return may(user, ("view", "approve"), deployment_request.model_version.model)


@rule("registry.mlmodel", "request")
def _request_deployment(user, model) -> bool:
    """Asking the gate needs the change right on the model (its team), or the pipeline
    role with sight of it (a shared CI service account)."""
    if _holds(user, "change", model):
        return True
    return has_role(user, Role.PIPELINE, Role.ADMIN) and may(user, ("view", "approve"), model)


@rule("registry.deploymentrequest", "report")
def _report_outcome(user, deployment_request) -> bool:
    """The requester, the model's team, or a pipeline account reports what happened."""
    return (
        deployment_request.requested_by_id == user.pk
        or has_role(user, Role.PIPELINE, Role.ADMIN)
        or may(user, "change", deployment_request.model_version.model)
    )


@rule("registry.mlmodel", "send-feedback")
def _send_feedback(user, model) -> bool:
    """Sending a feedback report over the API: the model's team (its operators), or an
    integrated product's pipeline account with sight of it; the read-only global roles
    (board, auditor) read reports but do not send them."""
    if _holds(user, "change", model):
        return True
    return has_role(user, Role.PIPELINE, Role.ADMIN) and may(user, ("view", "approve"), model)


@rule("registry.mlmodel", "evaluate")
def _post_evaluations(user, model) -> bool:
    """Posting evaluation results: the ml-engineer or pipeline role in the model's team."""
    writer = has_role(user, Role.ML_ENGINEER, Role.PIPELINE, Role.ADMIN)
    return writer and may(user, "change", model)


# --- the API's side: DRF permissions and the filter backend ----------------------------


class TokenScopePermission(permissions.BasePermission):
    """A read-only token may only read."""

    message = "This API token is read-only."

    def has_permission(self, request, view):
        token = request.auth
        if isinstance(token, ApiToken) and token.read_only:
            return request.method in permissions.SAFE_METHODS
        return True


class ActionPermission(permissions.BasePermission):
    """A view-wide right, asked of ``may_any``: reads need a signed-in user (and
    ``view.read_permission``, if set), writes ``view.write_permission``; both are
    ``(action, "app_label.model")``. An anonymous write passes only where the view says
    ``anonymous_writes`` (lineage intake, when the setting allows it). The refusal
    names ``view.permission_denied_message``."""

    message = "You may not do this here."

    def has_permission(self, request, view):
        safe = request.method in permissions.SAFE_METHODS
        user = request.user
        if not (user and user.is_authenticated):
            return not safe and bool(getattr(view, "anonymous_writes", False))
        needed = getattr(view, "read_permission" if safe else "write_permission", None)
        if needed is None or may_any(user, *needed):
            return True
        self.message = getattr(view, "permission_denied_message", self.message)
        return False


class ObjectActionPermission(permissions.BasePermission):
    """Changes need the change (or delete) permission on the scoping object."""

    message = "You may see this record but not change it."

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        action = "delete" if request.method == "DELETE" else "change"
        return may(request.user, action, follow(obj, view_scope_path(view)))


def view_scope_path(view):
    """The view's scoping: ``scope_paths`` (alternatives) or ``scope_path`` (one)."""
    paths = getattr(view, "scope_paths", None)
    return paths if paths else getattr(view, "scope_path", "pk")


class ObjectPermissionFilter(BaseFilterBackend):
    """Scope every list and detail to what the user may view."""

    def filter_queryset(self, request, queryset, view):
        return scope_queryset(
            queryset, request.user, view_scope_path(view), getattr(view, "scope_model", None)
        )
