"""Issuing and revoking API tokens."""

from datetime import timedelta

from django.db import transaction

from accounts.models import ApiToken


def issue_token(user, *, name: str = "", expires_days: int | None = 90, read_only: bool = False):
    """Create a token; return (record, plaintext). The plaintext is not kept anywhere."""
    expiry = timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        return ApiToken.objects.create(user, expiry=expiry, name=name, read_only=read_only)


def revoke_token(token: ApiToken) -> None:
    with transaction.atomic():
        token.delete()
