"""Who gets told: e-mail addresses of a team or group, and sending after commit."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from accounts.roles import Role

log = logging.getLogger(__name__)


def group_emails(group) -> list[str]:
    """Addresses of the group's active people (pipeline service accounts read no mail)."""
    if group is None:
        return []
    users = (
        get_user_model()
        .objects.filter(groups=group, is_active=True)
        .exclude(email="")
        .exclude(groups__name=Role.PIPELINE)
    )
    return sorted(set(users.values_list("email", flat=True)))


def send(subject: str, body: str, recipients: list[str]) -> int:
    """Send one mail to everyone listed; a mail server failure is logged, not raised,
    so that it never undoes the state change that prompted it."""
    if not recipients:
        return 0
    try:
        return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except OSError:
        log.exception("could not send %r to %s", subject, recipients)
        return 0
