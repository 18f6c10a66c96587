from knox.auth import TokenAuthentication
from rest_framework.authentication import SessionAuthentication

__all__ = ["BearerTokenAuthentication", "SessionAuthentication"]


class BearerTokenAuthentication(TokenAuthentication):
    """``Authorization: Bearer <token>``, as OpenLineage clients send their api_key."""
