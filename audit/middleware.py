import ipaddress
import re
import uuid

from django.conf import settings

from audit.context import AuditContext, reset_context, set_context

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_ADDRESS_MAX_LENGTH = 45  # AuditEvent.source_address


class AuditContextMiddleware:
    """Give every request an id and remember it, its source and its user for the audit trail."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        token = set_context(
            AuditContext(request_id=request_id, source_address=_source(request), request=request)
        )
        try:
            response = self.get_response(request)
        finally:
            reset_context(token)
        response["X-Request-ID"] = request_id
        return response


def _address(text: str) -> str | None:
    """``text`` as a normalised IP address, or None when it is not one (or too long to keep)."""
    try:
        address = str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None
    return address if len(address) <= _ADDRESS_MAX_LENGTH else None


def _source(request) -> str | None:
    """The client's address: REMOTE_ADDR, or with GOVREG_TRUST_X_FORWARDED_FOR the
    X-Forwarded-For hop that the outermost of our GOVREG_TRUSTED_PROXY_COUNT proxies
    appended. Hops further left are whatever the client sent, so they are never used;
    a missing or malformed hop falls back to REMOTE_ADDR."""
    remote = request.META.get("REMOTE_ADDR") or None
    if settings.GOVREG_TRUST_X_FORWARDED_FOR:
        hops = [hop for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
        proxies = settings.GOVREG_TRUSTED_PROXY_COUNT
        if len(hops) >= proxies:
            return _address(hops[-proxies]) or remote
    return remote
