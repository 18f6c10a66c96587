"""Service endpoints outside the API: health, metrics, API docs, and JSON error pages."""

import base64
import functools
import hashlib
import hmac
import re

from csp.decorators import csp_update
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import JsonResponse
from django.shortcuts import render
from django.template.loader import get_template
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView

from config import metrics as _domain_metrics  # noqa: F401  registers the collector
from config.api import error_body


@transaction.non_atomic_requests
@require_GET
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return JsonResponse({"status": "unavailable", "database": str(exc)[:200]}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})


@require_GET
def metrics(request):
    expected = settings.GOVREG_METRICS_TOKEN
    if expected:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return JsonResponse(
                error_body(401, "not_authenticated", "metrics token required"), status=401
            )
    return ExportToDjangoView(request)


@functools.cache
def _inline_style_sources(template_name: str) -> tuple[str, ...]:
    """CSP hash sources for the fixed <style> blocks of a template."""
    source = get_template(template_name).template.source
    digests = (
        hashlib.sha256(css.encode()).digest()
        for css in re.findall(r"<style>(.*?)</style>", source, re.DOTALL)
    )
    return tuple(f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests)


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI under the strict Content-Security-Policy: its start-up script is a
    separate answer of this view (``?script``), not inline; the page's one inline
    <style> is allowed by its hash. Never cached: the script carries the CSRF token."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        styles = {"style-src": list(_inline_style_sources(self.template_name))}
        response = csp_update(styles)(super().get)(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response


def admin_sign_in(request, **kwargs):
    """The admin's sign-in page, with the console sign-in's limit on attempts per client
    address (GOVREG_RATE_SIGN_IN): a POST over it answers 429 with Retry-After."""
    from django.contrib import admin

    from config.throttling import SignInThrottle, too_many

    if request.method == "POST":
        throttle = SignInThrottle()
        if not throttle.allow_request(request, None):
            return too_many(throttle.wait())
    return admin.site.login(request, **kwargs)


def _wants_html(request) -> bool:
    return not request.path.startswith("/api/") and "text/html" in request.headers.get("Accept", "")


def not_found(request, exception=None):
    if _wants_html(request):
        return render(request, "console/not_found.html", status=404)
    return JsonResponse(error_body(404, "not_found", f"No resource at {request.path}"), status=404)


@csrf_exempt
def api_not_found(request):
    return JsonResponse(error_body(404, "not_found", f"No resource at {request.path}"), status=404)


def server_error(request):
    body = error_body(500, "server_error", "Internal error; it has been logged.")
    return JsonResponse(body, status=500)


def bad_request(request, exception=None):
    return JsonResponse(error_body(400, "bad_request", "Bad request"), status=400)


def permission_denied(request, exception=None):
    return JsonResponse(error_body(403, "permission_denied", "Permission denied"), status=403)
