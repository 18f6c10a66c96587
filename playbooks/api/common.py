"""Pieces the playbooks API views share: scoping through a parent. Refused state
changes are answered by ``config.api``'s handler."""

from rest_framework.exceptions import PermissionDenied

from accounts.api.base import ScopedModelViewSet
from accounts.permissions import may


class ParentScopedViewSet(ScopedModelViewSet):
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
