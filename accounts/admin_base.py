"""The admin asks the API's permission questions.

Every govreg ``ModelAdmin`` (``audit``'s own, which sits below this app, aside)
derives from ``GovernedAdmin``, or ``GovernedGuardedAdmin`` for the records whose
object permissions admins manage. They answer Django's
``has_view/add/change/delete_permission`` and narrow ``get_queryset`` with the
predicates of ``accounts.permissions`` that the API's ``ScopedModelViewSet`` uses
(``scope_queryset``, ``may``, ``teams_to_create_in``): a record the API answers
with a 404 is not in the changelist (its change page redirects to the index), and
a change the API refuses with a 403 is refused here too.

Each admin says, like the viewset of its model:

- ``readers``: ``Who.TEAM`` (scoped through ``scope_path`` and ``scope_model``, the
  viewset's attributes of the same name), ``Who.SIGNED_IN`` (shared records every
  signed-in user reads) or ``Who.MODEL_PERM`` (holders of the model's view permission);
- ``writers``: ``Who.TEAM`` (the change, or delete, right on the scoping object;
  creating needs a team, or the change right on the parent), ``Who.MODEL_PERM`` (the
  model's add/change/delete permission), ``Who.ADMINS`` (the admin role), or ``None``
  (records only services write: read-only here);
- ``add_allowed`` and ``delete_allowed``: whether the API creates and deletes them.

On top of that the admin never writes for the board, auditors or service
accounts (``admin_may_write``), and an admin action is offered only when it names
the permission it needs (``allowed_permissions``).
"""

from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from guardian.admin import GuardedModelAdmin

from accounts.permissions import (
    follow,
    may,
    may_any,
    perm_name,
    scope_queryset,
    teams_to_create_in,
)
from accounts.roles import Role, has_role
from audit.admin import AuditHistoryMixin


class Who:
    TEAM = "team"
    SIGNED_IN = "signed-in"
    MODEL_PERM = "model-perm"
    ADMINS = "admins"


# The board and auditors read every team's records and change none (their groups
# hold view permissions only); pipelines are service accounts that act through
# the API with their tokens, so the admin does not write for them either.
READ_ONLY_ROLES = (Role.BOARD, Role.AUDITOR, Role.PIPELINE)


def admin_may_write(user) -> bool:
    """Whether the admin may write anything at all for ``user`` (admins always may)."""
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    if has_role(user, Role.ADMIN):
        return True
    return not has_role(user, *READ_ONLY_ROLES)


def per_request(request, key, compute):
    """``compute()`` once per request: every admin page asks every admin of the sidebar
    what the user may do, and the answers without an object do not change meanwhile."""
    answers = request.__dict__.setdefault("_govreg_admin_answers", {})
    if key not in answers:
        answers[key] = compute()
    return answers[key]


def adopt(instance, saved) -> None:
    """Make the admin form's unsaved ``instance`` the row a service created, so the
    admin's log entry, related saves and redirect use it."""
    instance.__dict__.update(saved.__dict__)


def model_fields(form) -> dict:
    """The form's cleaned values of the model's own (not many-to-many) fields."""
    concrete = {f.name for f in form._meta.model._meta.concrete_fields}
    return {name: value for name, value in form.cleaned_data.items() if name in concrete}


class GovernedAdminMixin:
    readers = Who.TEAM
    writers = Who.TEAM
    scope_path = "pk"
    scope_model = None
    add_allowed = True
    delete_allowed = False

    # --- scoping ----------------------------------------------------------------

    def get_scope_model(self):
        if self.scope_path in ("", "pk"):
            return self.scope_model or self.model
        if self.scope_model is None:
            raise ImproperlyConfigured(f"{type(self).__name__}: scope_path needs scope_model")
        return self.scope_model

    def is_root(self) -> bool:
        return self.scope_path in ("", "pk")

    def scope_queryset(self, request, queryset):
        """``queryset`` narrowed to what ``request.user`` may see, as the API narrows it."""
        user = request.user
        if self.readers == Who.TEAM:
            return scope_queryset(queryset, user, self.scope_path, self.get_scope_model())
        if self.readers == Who.SIGNED_IN:
            return queryset if user.is_authenticated else queryset.none()
        if self.readers == Who.MODEL_PERM:
            return queryset if user.has_perm(perm_name(self.model, "view")) else queryset.none()
        raise ImproperlyConfigured(f"{type(self).__name__}: unknown readers {self.readers!r}")

    def scope_object(self, obj):
        """The record whose rights decide about ``obj`` (the viewset's ``scope_path``)."""
        return follow(obj, self.scope_path)

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def changeable(self, request):
        """The records of this admin ``request.user`` may change (team-scoped admins)."""
        return scope_queryset(
            self.model._default_manager.all(),
            request.user,
            self.scope_path,
            self.get_scope_model(),
            "change",
        )

    # --- Django's permission questions ------------------------------------------

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        user = request.user
        if not (getattr(user, "is_authenticated", False) and user.is_active):
            return False
        if self.readers == Who.MODEL_PERM and not user.has_perm(perm_name(self.model, "view")):
            return False
        if obj is None:
            return True
        return self.scope_queryset(request, self.model._default_manager.filter(pk=obj.pk)).exists()

    def may_write(self, request, action: str, obj=None) -> bool:
        """The API's answer to "may this user ``action`` (change, delete) ``obj``"; without
        ``obj``: may they ``action`` any record of this kind."""
        user = request.user
        if self.writers is None or not admin_may_write(user):
            return False
        if self.writers == Who.ADMINS:
            return has_role(user, Role.ADMIN)
        if self.writers == Who.MODEL_PERM:
            return user.has_perm(perm_name(self.model, action))
        if self.writers != Who.TEAM:
            raise ImproperlyConfigured(f"{type(self).__name__}: unknown writers {self.writers!r}")
        if obj is None:
            return may_any(user, action, self.get_scope_model())
        return may(user, action, self.scope_object(obj))

    def has_add_permission(self, request, *args):
        if not self.add_allowed or self.writers is None or not admin_may_write(request.user):
            return False
        if self.writers != Who.TEAM:
            return self.may_write(request, "add")
        if self.is_root():
            return per_request(
                request, ("teams",), lambda: teams_to_create_in(request.user).exists()
            )
        return may_any(request.user, "change", self.get_scope_model())

    def has_change_permission(self, request, obj=None):
        return self.may_write(request, "change", obj)

    def has_delete_permission(self, request, obj=None):
        return self.delete_allowed and self.may_write(request, "delete", obj)

    def get_actions(self, request):
        """Only actions that name the permission they need (fail closed)."""
        return {
            name: entry
            for name, entry in super().get_actions(request).items()
            if getattr(entry[0], "allowed_permissions", None)
        }

    # --- form choices -----------------------------------------------------------

    def parent_field_name(self) -> str | None:
        return None if self.is_root() else self.scope_path.split("__")[0]

    def parent_choices(self, request):
        """Parents a new record may be put under: those whose scoping record the user
        may change (the API's ``check_create_scope``)."""
        field = self.model._meta.get_field(self.parent_field_name())
        rest = self.scope_path.partition("__")[2]
        return scope_queryset(
            field.related_model._default_manager.all(),
            request.user,
            rest or "pk",
            self.get_scope_model(),
            "change",
        )

    def choices_for(self, db_field, request):
        """What a relation field may point at: parents the user may change, their own
        teams, or what the related record's admin shows them."""
        if db_field.name == self.parent_field_name():
            return self.parent_choices(request)
        if self.readers == Who.TEAM and self.is_root() and db_field.name == "team":
            return teams_to_create_in(request.user)
        related = self.admin_site._registry.get(db_field.related_model)
        if isinstance(related, GovernedAdminMixin):
            return related.get_queryset(request)
        return None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            queryset = self.choices_for(db_field, request)
            if queryset is not None:
                kwargs["queryset"] = queryset
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            queryset = self.choices_for(db_field, request)
            if queryset is not None:
                kwargs["queryset"] = queryset
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class GovernedAdmin(GovernedAdminMixin, AuditHistoryMixin, admin.ModelAdmin):
    """A govreg record's admin page, with its audit history."""


class GovernedGuardedAdmin(GovernedAdminMixin, AuditHistoryMixin, GuardedModelAdmin):
    """A record carrying guardian object permissions; only admins manage those
    (a team member who may change the record may not grant rights on it)."""

    def _admins_only(self, request):
        if not has_role(request.user, Role.ADMIN):
            raise PermissionDenied

    def obj_perms_manage_view(self, request, object_pk):
        self._admins_only(request)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        self._admins_only(request)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        self._admins_only(request)
        return super().obj_perms_manage_group_view(request, object_pk, group_id)


class GovernedInlineMixin:
    """Rows shown inside another record's page: that record's rules decide. Adding
    or changing a row needs the change right on the record; deleting one, its delete
    right (the API asks the same of the row's scoping record)."""

    def _parent_admin(self):
        return self.admin_site._registry[self.parent_model]

    def has_view_permission(self, request, obj=None):
        return self._parent_admin().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._parent_admin().may_write(request, "change", obj)

    def has_change_permission(self, request, obj=None):
        return self._parent_admin().may_write(request, "change", obj)

    def has_delete_permission(self, request, obj=None):
        return self.can_delete and self._parent_admin().may_write(request, "delete", obj)


class GovernedTabularInline(GovernedInlineMixin, admin.TabularInline):
    pass
