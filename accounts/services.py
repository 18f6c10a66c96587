"""Issuing and revoking API tokens."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from accounts.models import ApiToken
from config.errors import BadParameter


def token_lifetime(expires_days: int | None) -> timedelta:
    """The lifetime of a new token: ``GOVREG_TOKEN_TTL_DAYS`` when none is asked for,
    else 1 to ``GOVREG_TOKEN_MAX_DAYS`` days. No token is without an expiry."""
    if expires_days is None:
        return timedelta(days=settings.GOVREG_TOKEN_TTL_DAYS)
    longest = settings.GOVREG_TOKEN_MAX_DAYS
    if isinstance(expires_days, bool) or not 1 <= expires_days <= longest:
        raise BadParameter(f"must be a number of days from 1 to {longest}", field="expires_days")
    return timedelta(days=expires_days)


def issue_token(user, *, name: str = "", expires_days: int | None = None, read_only: bool = False):
    """Create a token; return (record, plaintext). The plaintext is not kept anywhere.
    ``expires_days``: see ``token_lifetime``."""
    expiry = token_lifetime(expires_days)
    with transaction.atomic():
        return ApiToken.objects.create(user, expiry=expiry, name=name, read_only=read_only)


def revoke_token(token: ApiToken) -> None:
    with transaction.atomic():
        token.delete()
