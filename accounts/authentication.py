"""How a request says who it is: bearer tokens for pipelines, the session for people,
and the model-permission backend both use."""

import binascii
from hmac import compare_digest

from django.contrib.auth import backends
from django.contrib.auth.models import Group, Permission
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed

from accounts.models import ApiToken
from accounts.roles import remember_group_names
from config.sql import JSONArray
from config.statements import Statement

__all__ = ["BearerTokenAuthentication", "ModelBackend", "SessionAuthentication"]


class BearerTokenAuthentication(TokenAuthentication):
    """``Authorization: Bearer <token>``, as OpenLineage clients send their api_key.

    knox sweeps every expired token of the user on every request (a query
    per request); here only the presented token is judged, and the sweep of
    the others is the periodic task ``accounts.purge_expired_tokens``.

    The tokens sharing the presented key prefix are read by a statement compiled once
    (``config.statements``): every API call pays this read, and building it through
    the ORM each time was most of ``GET /api/me/``'s Python.
    """

    def authenticate_credentials(self, token: bytes):
        # A token is printable ASCII: anything else (bytes that are not UTF-8, a NUL,
        # which PostgreSQL text cannot hold) is refused before it reaches a query.
        presented = token.decode("latin-1")
        if not (presented.isascii() and presented.isprintable()):
            raise AuthenticationFailed("Invalid token.")
        for candidate in _TOKENS_BY_KEY.all(token_key=presented[: CONSTANTS.TOKEN_KEY_LENGTH]):
            if self._cleanup_token(candidate):
                continue
            try:
                digest = hash_token(presented)
            except (TypeError, binascii.Error):
                break
            if compare_digest(digest, candidate.digest):
                remember_group_names(candidate.user, candidate.group_names or ())
                if knox_settings.AUTO_REFRESH and candidate.expiry:
                    self.renew_token(candidate)
                return self.validate_user(candidate)
        raise AuthenticationFailed("Invalid token.")

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
            held = _ALL_PERMISSIONS.all() if user_obj.is_superuser else _HELD.all(user=user_obj.pk)
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in held}
        return user_obj._perm_cache


def _held_query(user):
    own = Permission.user_set.through.objects.filter(user_id=user)
    shared = Group.permissions.through.objects.filter(group__user=user)
    return Permission.objects.filter(
        Q(pk__in=own.values("permission_id")) | Q(pk__in=shared.values("permission_id"))
    ).values_list("content_type__app_label", "codename")


# compiled once (config.statements): nearly every API call asks a model permission
_HELD = Statement(_held_query, user=int)
_ALL_PERMISSIONS = Statement(
    lambda: Permission.objects.values_list("content_type__app_label", "codename")
)


def _tokens_query(token_key):
    """The tokens of a key prefix with their user and the user's group names (teams and
    roles), so the roles every permission asks about cost no query of their own."""
    names = (
        Group.objects.filter(user=OuterRef("user_id"))
        .order_by()
        .values("user")
        .annotate(names=JSONArray("name"))
        .values("names")
    )
    return (
        ApiToken.objects.filter(token_key=token_key)
        .select_related("user")
        .annotate(group_names=Subquery(names))
    )


_TOKENS_BY_KEY = Statement(_tokens_query, token_key=str)
