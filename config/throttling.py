"""Rate limits: DRF's throttles over Django's cache (Redis when ``GOVREG_CACHE_URL``
or a Redis broker is set, so every web process counts together; memory otherwise).

Each limit is a rate in ``GOVREG_RATE_LIMITS`` ("N/second|minute|hour|day"), read
when a request is checked, so a deployment (or a test) may change it:

- ``sign-in``: console sign-in attempts per client address;
- ``tokens``: API tokens created per user;
- ``anonymous``: requests without credentials to the endpoints that allow them (the
  lineage intake with ``GOVREG_LINEAGE_ALLOW_ANONYMOUS``), per client address.

Past a limit the answer is 429 with ``Retry-After`` (seconds).
"""

import logging

from django.conf import settings
from django.http import HttpResponse
from rest_framework.throttling import SimpleRateThrottle

# the client address the audit trail records (REMOTE_ADDR, or our proxies' hop)
from audit.middleware import _source as client_address

logger = logging.getLogger(__name__)


class RateThrottle(SimpleRateThrottle):
    """A limit named by ``scope`` in ``GOVREG_RATE_LIMITS``; ``None`` switches it off."""

    def __init__(self):  # the rate is read per request, not once at import
        pass

    def allow_request(self, request, view):
        self.rate = settings.GOVREG_RATE_LIMITS.get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache is down (Redis restarting): answer, unlimited
            logger.warning("rate limit %s not checked: the cache failed", self.scope, exc_info=True)
            return True

    def ident(self, request) -> str:
        return client_address(request) or "unknown"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.ident(request)}


class AnonymousThrottle(RateThrottle):
    """Requests without credentials, per client address; signed-in callers pass."""

    scope = "anonymous"

    def get_cache_key(self, request, view):
        if request.user is not None and request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)


class TokenCreationThrottle(RateThrottle):
    """API tokens created, per user."""

    scope = "tokens"

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        return super().allow_request(request, view)

    def ident(self, request) -> str:
        return f"user-{request.user.pk}"


class SignInThrottle(RateThrottle):
    """Console sign-in attempts (POSTs of the form), per client address."""

    scope = "sign-in"


class FeedbackThrottle(RateThrottle):
    """Feedback reports sent (POSTs), per client address, signed in or not."""

    scope = "feedback"

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        return super().allow_request(request, view)


def too_many(seconds: float | None) -> HttpResponse:
    """The plain 429 of a view outside DRF (the console's sign-in)."""
    wait = max(1, round(seconds or 1))
    response = HttpResponse(
        f"Too many sign-in attempts; try again in {wait} seconds.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(wait)
    return response


__all__ = [
    "AnonymousThrottle",
    "FeedbackThrottle",
    "RateThrottle",
    "SignInThrottle",
    "TokenCreationThrottle",
    "too_many",
]
