from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken


@shared_task(name="accounts.purge_expired_tokens")
def purge_expired_tokens() -> int:
    """Delete expired tokens (each deletion is audited). Idempotent."""
    purged = 0
    for token in ApiToken.objects.filter(expiry__lt=timezone.now()).iterator():
        with transaction.atomic():
            token.delete()
        purged += 1
    return purged
