"""The one way the registry tells people something by mail.

- **Text from templates.** A notice is two Django templates of its app,
  ``<app>/mail/<name>_subject.txt`` (one line) and ``<name>.txt`` (the body),
  rendered with ``render_to_string``; services pass facts, never prose.
- **Links by name.** ``link()`` reverses a URL name and puts ``GOVREG_BASE_URL``
  in front (unset: the link is the path alone, as before).
- **Never inside a transaction.** A service that decides to tell someone inside
  its transaction hands the mail to ``deliver_on_commit``; a task that runs outside
  one (beat reminders, the escalation task) calls ``deliver`` after the
  transaction that claimed the notice has committed.
- **Once.** Every notice is one row, unique per (kind, object, audience): a
  reminder per (risk, kind, due date), an impact notice per (dataset version,
  status, team), an escalation per (incident, level), a deadline warning per
  incident and deadline in force. ``claim`` takes the row's sent stamp with a
  conditional UPDATE that must change exactly one row, so two workers never both
  send; ``deliver`` calls ``release`` when the mail server fails, so the next run
  tries again where the caller wants that.

Lives in ``accounts`` (beside teams and roles, which say who reads mail) and
imports no domain app, so every app may use it.
"""

import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.roles import Role
from config.statements import Statement

log = logging.getLogger(__name__)

# What a mail server that is away raises (ConnectionError and socket errors are OSErrors).
MAIL_ERRORS = (OSError, smtplib.SMTPException)


@dataclass(frozen=True)
class Mail:
    """One rendered notice and who gets it."""

    subject: str
    body: str
    recipients: tuple[str, ...]


def compose(template: str, context: dict, recipients: Iterable[str]) -> Mail:
    """Render ``<template>_subject.txt`` and ``<template>.txt`` (e.g. ``risk/mail/reminder``)."""
    subject = render_to_string(f"{template}_subject.txt", context)
    body = render_to_string(f"{template}.txt", context)
    return Mail(
        subject=" ".join(subject.split()),
        body=body.strip() + "\n",
        recipients=tuple(r for r in recipients if r),
    )


def link(viewname: str, *, args=None, query: dict | None = None) -> str:
    """The address of a named URL, absolute when ``GOVREG_BASE_URL`` is set."""
    path = reverse(viewname, args=args)
    if query:
        path += "?" + urlencode(query, safe="/:@")
    return (settings.GOVREG_BASE_URL or "").rstrip("/") + path


# compiled once (config.statements): every escalation level and notice asks it; building
# the queryset of two excludes over the membership table cost more than running it
_GROUP_EMAILS = Statement(
    lambda group: (
        get_user_model()
        .objects.filter(groups=group, is_active=True)
        .exclude(email="")
        .exclude(groups__name=Role.PIPELINE)
        .values_list("email")
    ),
    group=int,
)


def group_emails(group) -> list[str]:
    """Addresses of the group's active people (pipeline service accounts read no mail)."""
    if group is None:
        return []
    return sorted({email for (email,) in _GROUP_EMAILS.all(group=group.pk)})


def claim(rows, **stamp) -> bool:
    """Take a notice's sent stamp: ``rows`` is the notice filtered on its stamp being
    unset (``Reminder.objects.filter(pk=..., sent_at__isnull=True)``); True when this
    caller changed the one row and so is the one to send."""
    return rows.update(**stamp) == 1


def deliver(
    mail: Mail, *, release: Callable[[], object] | None = None, raise_errors: bool = False
) -> bool:
    """Send ``mail`` now; True when it went out. Call it outside the transaction that
    decided it (from a task, or through ``deliver_on_commit``). A mail server failure
    is logged, ``release`` (if given) gives the claim back, and the error is raised
    only with ``raise_errors`` (for a task that Celery retries)."""
    if not mail.recipients:
        return False
    try:
        send_mail(mail.subject, mail.body, settings.DEFAULT_FROM_EMAIL, list(mail.recipients))
    except MAIL_ERRORS:
        log.exception("could not send %r to %s", mail.subject, list(mail.recipients))
        if release is not None:
            release()
        if raise_errors:
            raise
        return False
    return True


def deliver_on_commit(mail: Mail, *, release: Callable[[], object] | None = None) -> None:
    """Send ``mail`` once the caller's transaction commits (never if it rolls back)."""
    transaction.on_commit(lambda: deliver(mail, release=release))
