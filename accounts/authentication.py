"""How a request says who it is: bearer tokens for pipelines, the session for people,
and the model-permission backend both use."""

from django.contrib.auth import backends
from django.contrib.auth.models import Group, Permission
from django.db.models import Q
from django.utils import timezone
from knox.auth import TokenAuthentication
from rest_framework.authentication import SessionAuthentication

__all__ = ["BearerTokenAuthentication", "ModelBackend", "SessionAuthentication"]


class BearerTokenAuthentication(TokenAuthentication):
    """``Authorization: Bearer <token>``, as OpenLineage clients send their api_key.

    knox sweeps every expired token of the user on every request (a query
    per request); here only the presented token is judged, and the sweep of
    the others is the periodic task ``accounts.purge_expired_tokens``.
    """

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class ModelBackend(backends.ModelBackend):
    """Django's model permissions, with the user's own and their groups' read in one
    query (Django's backend asks twice) and kept, as Django keeps them, on the user
    object for the request (``_perm_cache``)."""

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                held = Permission.objects.all()
            else:
                own = Permission.user_set.through.objects.filter(user_id=user_obj.pk)
                shared = Group.permissions.through.objects.filter(group__user=user_obj.pk)
                held = Permission.objects.filter(
                    Q(pk__in=own.values("permission_id")) | Q(pk__in=shared.values("permission_id"))
                )
            user_obj._perm_cache = {
                f"{app_label}.{codename}"
                for app_label, codename in held.values_list("content_type__app_label", "codename")
            }
        return user_obj._perm_cache
