"""API-wide pieces: pagination and the JSON error shape.

Every error body is ``{"status": N, "error": CODE, "message": TEXT}`` and, for
invalid input, ``"fields": {name: [messages]}`` naming what to fix.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from django.utils.decorators import method_decorator
from rest_framework import exceptions, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


def _flatten(detail, prefix=""):
    """Turn DRF's nested error detail into {"field.path": [messages]}."""
    if isinstance(detail, dict):
        out = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def error_body(status_code: int, code: str, message: str, fields: dict | None = None) -> dict:
    body = {"status": status_code, "error": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    if request is not None:
        # Errors are JSON for every client: a browser's Accept: text/html would
        # otherwise get the browsable API's HTML page around them.
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.items()), None)
        message = f"{first[0]}: {first[1][0]}" if first and first[1] else "Invalid input."
        response.data = error_body(response.status_code, "invalid", message, fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(exc, "default_code", "error")
        if isinstance(detail, dict | list):
            fields = _flatten(detail)
            message = "; ".join(f"{k}: {v[0]}" for k, v in fields.items())
            response.data = error_body(response.status_code, code, message, fields)
        else:
            response.data = error_body(response.status_code, code, str(detail))
    return response


def problem(status_code: int, message: str, *, field: str | None = None, code: str = "invalid"):
    """A ready JSON error response for views that answer outside DRF's exceptions."""
    fields = {field: [message]} if field else None
    text = f"{field}: {message}" if field else message
    return Response(error_body(status_code, code, text, fields), status=status_code)


class OutsideRequestTransaction:
    """For a view that is not one transaction (a bulk intake that commits in short
    steps of its own): ``transaction.non_atomic_requests``, and an error answer in an
    atomic block of its own, because DRF marks the innermost block for rollback when
    it answers an error (which, here, would be an enclosing caller's, such as a test's).
    """

    @method_decorator(transaction.non_atomic_requests)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def handle_exception(self, exc):
        with transaction.atomic():
            return super().handle_exception(exc)


__all__ = [
    "OutsideRequestTransaction",
    "Pagination",
    "error_body",
    "exception_handler",
    "problem",
    "status",
]
