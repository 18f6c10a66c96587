"""The base viewset every team-scoped resource uses.

Subclasses name the scoping object: ``scope_path`` is the lookup from the
listed model to the model that carries the team's object permissions
(``"pk"`` when it is the object itself, ``"model"`` for a model version...),
and ``scope_model`` that model.
"""

from django.db import transaction
from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.permissions import IsAuthenticated

from accounts.permissions import (
    ObjectActionPermission,
    ObjectPermissionFilter,
    TokenScopePermission,
    may,
    may_create_in_team,
)
from config.api import FilterBackend


class ScopedModelViewSet(viewsets.ModelViewSet):
    scope_path = "pk"
    scope_model = None
    permission_classes = [IsAuthenticated, TokenScopePermission, ObjectActionPermission]
    filter_backends = [ObjectPermissionFilter, FilterBackend, SearchFilter, OrderingFilter]

    def check_create_scope(self, serializer) -> None:
        """Refuse a create outside the user's teams (root records) or without the change
        right on the scoping object reached through the parent given (children)."""
        user = self.request.user
        data = serializer.validated_data
        if self.scope_path in ("", "pk"):
            team = data.get("team")
            if team is not None and not may_create_in_team(user, team):
                raise PermissionDenied(f"You are not a member of team {team.name!r}.")
            return
        # the parent given, then on through the rest of the path to the scoping object
        # (an incident's model for a review: scope_path "incident__model")
        parent_name, *rest = self.scope_path.split("__")
        scope_obj = data.get(parent_name)
        if scope_obj is None:
            return
        for part in rest:
            scope_obj = getattr(scope_obj, part)
        if not may(user, "change", scope_obj):
            raise PermissionDenied("You may not add records under this parent.")

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        with transaction.atomic():
            serializer.save()

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.save()

    def perform_destroy(self, instance):
        with transaction.atomic():
            instance.delete()
