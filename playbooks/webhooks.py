"""Signed outgoing webhooks.

The receiver checks ``X-Govreg-Signature: sha256=<hex>``, the HMAC-SHA256 of the
exact body bytes keyed with GOVREG_WEBHOOK_SECRET, and may refuse a stale
``X-Govreg-Timestamp`` (Unix seconds, also inside the signed body as ``sent_at``).
Nothing is ever sent unsigned: without GOVREG_WEBHOOK_SECRET ``post_signed`` refuses.
"""

import hashlib
import hmac
import json
import time

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SIGNATURE_HEADER = "X-Govreg-Signature"
TIMESTAMP_HEADER = "X-Govreg-Timestamp"
EVENT_HEADER = "X-Govreg-Event"


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str, secret: str) -> bool:
    return hmac.compare_digest(sign(body, secret), signature or "")


def encode(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def post_signed(url: str, event: str, payload: dict, *, timeout: float | None = None):
    """POST ``payload`` as JSON with its signature; raises requests.RequestException
    on a network error or a non-2xx answer, ImproperlyConfigured without a secret."""
    secret = settings.GOVREG_WEBHOOK_SECRET
    if not secret:
        raise ImproperlyConfigured("GOVREG_WEBHOOK_SECRET is not set: webhooks are never unsigned")
    timestamp = int(time.time())
    body = encode({**payload, "event": event, "sent_at": timestamp})
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret),
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_HEADER: event,
        "User-Agent": "govreg-webhook/1",
    }
    response = requests.post(
        url,
        data=body,
        headers=headers,
        timeout=timeout or settings.GOVREG_WEBHOOK_TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    return response
