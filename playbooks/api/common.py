"""Pieces the playbooks API views share: 409/403 answers for refused state
changes and scoping through a parent."""

from rest_framework.exceptions import PermissionDenied

from accounts.api.base import ScopedModelViewSet
from accounts.permissions import may
from config.api import problem
from playbooks.services import IncidentConflict


class ConflictAs409:
    """Turn a refused state change into a 409 (403 for a decision right) naming what is
    in the way."""

    def handle_exception(self, exc):
        if isinstance(exc, IncidentConflict):
            return problem(exc.status, exc.message, field=exc.field, code=exc.code)
        return super().handle_exception(exc)


class ParentScopedViewSet(ConflictAs409, ScopedModelViewSet):
    """A child whose team is found through a parent (``scope_path``): creating needs the
    change right on the scoping object reached through that parent."""

    def check_create_scope(self, serializer):
        parent_name, _, rest = self.scope_path.partition("__")
        parent = serializer.validated_data.get(parent_name)
        if parent is None:
            return
        scope_obj = parent
        for part in rest.split("__") if rest else []:
            scope_obj = getattr(scope_obj, part)
        if not may(self.request.user, "change", scope_obj):
            raise PermissionDenied("You may not add records under this parent.")
