"""API-wide pieces: pagination, the one serializer base, and the JSON error shape.

Every error body is ``{"status": N, "error": CODE, "message": TEXT}`` and, for
invalid input, ``"fields": {name: [messages]}`` naming what to fix. The domain's
refusals (``config.errors``) are mapped here, once: ``Conflict`` is 409, ``Refused``
403, ``BadParameter`` 400 and ``Missing`` 404.
"""

import django_filters
from django import forms
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import ProtectedError
from django.http import Http404
from django.utils.decorators import method_decorator
from django_filters import rest_framework as drf_filters
from django_filters.utils import translate_validation
from rest_framework import exceptions, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import BadParameter, Conflict, DomainError, Missing, Refused


class Pagination(LimitOffsetPagination):
    """Limit/offset pages (``count``, ``next``, ``previous``, ``results``), without a
    ``COUNT(*)`` query when the page says it all: one row more than the limit is
    fetched, and when the page is the last one the total is ``offset + rows``. Most
    filtered lists ("what is live in production") fit in one page and cost one query."""

    default_limit = 50
    max_limit = 500
    # past this an offset is an empty page, not a database integer overflow
    max_offset = 10**9

    def get_offset(self, request):
        return min(super().get_offset(request), self.max_offset)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.offset = self.get_offset(request)
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        if rows and len(rows) <= self.limit:
            self.count = self.offset + len(rows)
        elif not rows and self.offset == 0:
            self.count = 0
        else:
            self.count = self.get_count(queryset)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        return rows[: self.limit]


class MarquezPagination:
    """Marquez's page shape for ``/api/v1/``: ``{<key>: [...], "totalCount": N}``.

    ``limit`` and ``offset`` must be integers (else a 400 naming the parameter); out of
    range they are a 400 too, or, with ``clamp``, are brought into range (the events
    list has always capped them)."""

    def __init__(self, key: str, *, default_limit: int = 100, max_limit: int = 1000):
        self.key = key
        self.default_limit = default_limit
        self.max_limit = max_limit

    def paginate(self, request, queryset, *, clamp: bool = False):
        """The rows of the page asked for, and the total."""
        if clamp:
            limit = int_query_param(request, "limit", self.default_limit, low=None, high=None)
            offset = int_query_param(request, "offset", 0, low=None, high=None)
            # a huge offset is an empty page, not a database integer overflow
            limit, offset = min(max(limit, 0), self.max_limit), min(max(offset, 0), 10**9)
        else:
            limit = int_query_param(request, "limit", self.default_limit, high=self.max_limit)
            offset = int_query_param(request, "offset", 0, high=10**9)
        return list(queryset[offset : offset + limit]), queryset.count()

    def response(self, rows: list, total: int) -> Response:
        return Response({self.key: rows, "totalCount": total})


def int_query_param(
    request, name: str, default: int, *, low: int | None = 0, high: int | None = 1000
) -> int:
    """An integer query parameter in ``[low, high]`` (``None``: unbounded); anything
    else raises ``BadParameter`` naming it."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter("must be an integer", field=name)
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadParameter(f"must be between {low} and {high}", field=name)
    return value


class IdFilter(django_filters.Filter):
    """A related record by id, compared as a number: an id that does not exist and one
    the caller may not see both give an empty list (no "Select a valid choice" for the
    one only), so a filter is no oracle of other teams' records; the listed rows are
    the caller's anyway."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)  # past it a database integer overflows
        super().__init__(*args, **kwargs)


def _related_by_id(defaults: dict) -> dict:
    by_id = {"filter_class": IdFilter}
    return {
        **defaults,
        models.ForeignKey: by_id,
        models.OneToOneField: by_id,
        models.ManyToManyField: by_id,
    }


class FilterSet(django_filters.FilterSet):
    """The base of every FilterSet: a related record is filtered by id (``IdFilter``)."""

    FILTER_DEFAULTS = _related_by_id(django_filters.FilterSet.FILTER_DEFAULTS)


class _ViewFilterSet(drf_filters.FilterSet):
    FILTER_DEFAULTS = _related_by_id(drf_filters.FilterSet.FILTER_DEFAULTS)


class FilterBackend(drf_filters.DjangoFilterBackend):
    """django-filter's backend; a view's ``filterset_fields`` filter related records by id."""

    filterset_base = _ViewFilterSet


def valid_filterset(filterset_class, request, queryset):
    """The FilterSet of the query string, validated: a bad value is a 400 naming the
    parameter, as DRF's filter backend answers it (for views outside the generic ones)."""
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    return filterset


def filtered(filterset_class, request, queryset):
    """``queryset`` filtered by ``filterset_class`` from the query string."""
    return valid_filterset(filterset_class, request, queryset).qs


def as_drf_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A Django ValidationError as DRF's, keeping the field names."""
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(exc.message_dict)
    return exceptions.ValidationError({"non_field_errors": exc.messages})


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


class _DomainAnswer(exceptions.APIException):
    """A domain refusal on its way through DRF's handler (which rolls the request back)."""

    def __init__(self, exc: DomainError, status_code: int, code: str):
        self.status_code = status_code
        self.default_code = code
        detail = {exc.field: [exc.message]} if exc.field else exc.message
        super().__init__(detail, code)


def _in_use(exc: ProtectedError) -> exceptions.APIException:
    """A delete the database's ``PROTECT`` refused: 409, naming what still uses the row."""
    users = {}
    for row in exc.protected_objects:
        users[row._meta.verbose_name_plural] = users.get(row._meta.verbose_name_plural, 0) + 1
    what = ", ".join(f"{count} {name}" for name, count in sorted(users.items()))
    answer = exceptions.APIException(
        f"It cannot be deleted while it is in use (by {what})." if what else str(exc.args[0])
    )
    answer.status_code = status.HTTP_409_CONFLICT
    answer.default_code = "conflict"
    return answer


# Each domain refusal's answer: the first class the exception is an instance of wins.
DOMAIN_STATUS = (
    (Conflict, status.HTTP_409_CONFLICT, "conflict"),
    (Refused, status.HTTP_403_FORBIDDEN, "permission_denied"),
    (BadParameter, status.HTTP_400_BAD_REQUEST, "invalid"),
    (Missing, status.HTTP_404_NOT_FOUND, "not_found"),
)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = as_drf_error(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, ProtectedError):
        exc = _in_use(exc)
    elif isinstance(exc, DomainError):
        for kind, status_code, code in DOMAIN_STATUS:
            if isinstance(exc, kind):
                exc = _DomainAnswer(exc, status_code, code)
                break

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
    "FilterBackend",
    "FilterSet",
    "IdFilter",
    "MarquezPagination",
    "OutsideRequestTransaction",
    "Pagination",
    "as_drf_error",
    "error_body",
    "exception_handler",
    "filtered",
    "int_query_param",
    "problem",
    "status",
    "valid_filterset",
]
