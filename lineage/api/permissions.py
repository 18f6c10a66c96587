"""Who may write lineage (pipeline or ml-engineer roles) and who may read it (anyone signed in)."""

from django.conf import settings
from rest_framework import permissions

from accounts.permissions import user_can_write_lineage
from lineage.services import user_can_govern_dataset_versions


class LineagePermission(permissions.BasePermission):
    """Reading needs a signed-in user; writing needs a lineage-writing role.

    ``GOVREG_LINEAGE_ALLOW_ANONYMOUS`` lets unauthenticated emitters post events.
    """

    message = "Writing lineage needs the pipeline or ml-engineer role."

    def has_permission(self, request, view):
        user = request.user
        if request.method in permissions.SAFE_METHODS:
            return bool(user and user.is_authenticated)
        if not (user and user.is_authenticated):
            return (
                getattr(view, "anonymous_intake", False) and settings.GOVREG_LINEAGE_ALLOW_ANONYMOUS
            )
        return user_can_write_lineage(user)


class DatasetVersionGovernancePermission(permissions.BasePermission):
    """Changing a dataset version's status or notes: ml-engineer, admin, or the model
    permission ``lineage.change_datasetversion``."""

    message = "Changing a dataset version needs the ml-engineer or admin role."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return bool(request.user and request.user.is_authenticated)
        return user_can_govern_dataset_versions(request.user)
