from django.utils import timezone
from knox.auth import TokenAuthentication
from rest_framework.authentication import SessionAuthentication

__all__ = ["BearerTokenAuthentication", "SessionAuthentication"]


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
