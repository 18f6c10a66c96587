"""Signed generic webhooks: the sources allowed to send, their secrets, and the check
of each request.

A request carries ``X-Govreg-Timestamp: <Unix seconds>`` and ``X-Govreg-Signature:
sha256=<hex>``, the HMAC-SHA256, keyed with the source's secret, of the timestamp, a
full stop and the exact body bytes (``f"{timestamp}.".encode() + body``). Signing the
timestamp with the body means a captured request cannot be sent again later with a
fresh timestamp; one older (or newer) than GOVREG_SIGNALS_WEBHOOK_TOLERANCE_SECONDS is
refused, and a retry within the window repeats a stored reading, which the intake's
``intake_key`` does not store twice.

Every refusal (unknown or inactive source, a secret that no longer decrypts, a bad
signature) is the same 401 answer apart from the stale-timestamp one, so the answer
tells a caller without the secret nothing about which sources exist.

Secrets must stay usable to compute the HMAC, so they are not hashed: they are stored
encrypted with Fernet (AES-128-CBC with HMAC-SHA256), the key derived (HKDF-SHA256)
from SECRET_KEY; keys from SECRET_KEY_FALLBACKS still decrypt, so SECRET_KEY can be
rotated. A database dump alone does not reveal them; whoever holds SECRET_KEY and the
database can read them, as they could sign sessions. Only admins create sources and
rotate secrets, and a secret is shown once.
"""

import base64
import hmac
import secrets
import time
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.roles import Role, has_role
from audit.services import record_decision
from config.errors import BadParameter, Refused
from playbooks import webhooks
from playbooks.models import WebhookSource
from playbooks.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER

REFUSED = "The signature does not verify for this source."
_INFO = b"govreg webhook source secrets"


class WebhookRefused(Exception):
    """A signed request refused (answered 401 with ``message``)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _key(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_key(k) for k in keys])


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str | None:
    """The secret, or None when no current or fallback key decrypts it."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of ``timestamp.body``, what a sender puts in X-Govreg-Signature."""
    return webhooks.sign(timestamp.encode() + b"." + body, secret)


def _require_admin(user) -> None:
    if not has_role(user, Role.ADMIN):
        raise Refused("Only an administrator manages signed webhook sources.")


@dataclass
class IssuedSecret:
    source: WebhookSource
    secret: str


def create_source(*, name: str, team, user, description: str = "", secret: str | None = None):
    """A new source sending for ``team``: its service account (a member of the team
    only, no password, no token) and its secret, returned once (``IssuedSecret``).
    ``secret`` lets the demo seed a documented one; otherwise it is random."""
    _require_admin(user)
    if team is None or team.name in {r.value for r in Role}:
        raise BadParameter("Name the team the source sends for.", field="team")
    secret = secret or secrets.token_urlsafe(32)
    with transaction.atomic():
        if WebhookSource.objects.filter(name=name).exists():
            raise BadParameter(f"A source named {name!r} exists.", field="name")
        users = get_user_model()
        username = f"webhook-{name}"[:150]
        if users.objects.filter(username=username).exists():
            raise BadParameter(f"A user named {username!r} exists.", field="name")
        sender = users(username=username, is_active=True)
        sender.set_unusable_password()
        sender.save()
        sender.groups.add(team)
        source = WebhookSource(
            name=name,
            team=team,
            description=description,
            secret_encrypted=encrypt(secret),
            sender=sender,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        source.full_clean(exclude=["sender", "secret_encrypted"])
        source.save()
        record_decision(
            "webhook_source.created", source, name=name, team=team.name, sender=username
        )
    return IssuedSecret(source, secret)


def rotate_secret(source: WebhookSource, user, *, now=None) -> IssuedSecret:
    """A new secret for ``source`` (the old one stops verifying at once), shown once."""
    _require_admin(user)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        locked = WebhookSource.objects.select_for_update().get(pk=source.pk)
        locked.secret_encrypted = encrypt(secret)
        locked.secret_rotated_at = now or timezone.now()
        locked.save(update_fields=["secret_encrypted", "secret_rotated_at"])
        record_decision("webhook_source.secret_rotated", locked, name=locked.name)
    return IssuedSecret(locked, secret)


def verify(name: str, headers, body: bytes, *, now: float | None = None) -> WebhookSource:
    """The active source ``name`` if the request's timestamp is fresh and its signature
    verifies with the source's secret; else ``WebhookRefused``."""
    raw_timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    # ASCII digits only: "²".isdigit() is true but int() refuses it (and a 5,000-digit one).
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit()) or len(raw_timestamp) > 20:
        raise WebhookRefused(f"Send {TIMESTAMP_HEADER} as Unix seconds and sign it with the body.")
    tolerance = settings.GOVREG_SIGNALS_WEBHOOK_TOLERANCE_SECONDS
    skew = abs((time.time() if now is None else now) - int(raw_timestamp))
    if skew > tolerance:
        raise WebhookRefused(
            f"{TIMESTAMP_HEADER} is {int(skew)} s from now; at most {tolerance} s "
            "(GOVREG_SIGNALS_WEBHOOK_TOLERANCE_SECONDS): a replay, or the sender's clock is off."
        )
    source = (
        WebhookSource.objects.select_related("team", "sender")
        .filter(name=name, active=True)
        .first()
    )
    secret = decrypt(source.secret_encrypted) if source is not None else None
    # The same work and the same answer whether or not the source exists.
    expected = signature(secret or secrets.token_urlsafe(32), raw_timestamp, body)
    given = (headers.get(SIGNATURE_HEADER) or "").strip()
    # Bytes: compare_digest raises TypeError on a str with non-ASCII characters.
    if not hmac.compare_digest(expected.encode(), given.encode()) or secret is None:
        raise WebhookRefused(REFUSED)
    return source
