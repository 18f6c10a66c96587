"""OpenLineage intake with Marquez's wire contract: POST /api/v1/lineage (and /batch).

A RunEvent, DatasetEvent or JobEvent is validated against our schema (422
with the JSON path of the first violation), stored once (201 again for a
retry of the same event) and projected onto the lineage records in the
request's transaction. The batch endpoint is not one transaction: it validates
and stores each event in a short transaction of its own (so the audit chain's
lock is held for one event at a time, never across the batch) and reports
per-event failures; a retried batch stores nothing twice.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ActionPermission, TokenScopePermission
from config.api import MarquezPagination, OutsideRequestTransaction, error_body, filtered
from lineage.api.body import BodyError, parse_json, read_body
from lineage.api.reads import NODE, LineageGraphView
from lineage.filtersets import LineageEventFilter
from lineage.models import LineageEvent
from lineage.services import ingest_cache, ingest_event
from lineage.validation import InvalidEvent, validate_event


def _error(status: int, code: str, message: str, fields: dict | None = None) -> Response:
    return Response(error_body(status, code, message, fields), status=status)


def _invalid(exc: InvalidEvent) -> Response:
    return _error(422, "invalid_event", str(exc), {exc.field: [exc.reason]})


def _django_invalid(exc: ValidationError) -> InvalidEvent:
    if hasattr(exc, "error_dict"):
        name, errors = next(iter(exc.error_dict.items()))
        return InvalidEvent(f"$.{name}", errors[0].messages[0])
    return InvalidEvent("$", exc.messages[0])


class _IntakeView(APIView):
    permission_classes = [ActionPermission, TokenScopePermission]
    write_permission = ("add", "lineage.lineageevent")
    permission_denied_message = "Writing lineage needs the pipeline or ml-engineer role."
    parser_classes: list = []  # the body is read by read_body, bounded and inflated

    @property
    def anonymous_writes(self) -> bool:
        """``GOVREG_LINEAGE_ALLOW_ANONYMOUS`` lets unauthenticated emitters post events."""
        return settings.GOVREG_LINEAGE_ALLOW_ANONYMOUS

    def body(self, request):
        return parse_json(read_body(request._request, settings.GOVREG_LINEAGE_MAX_BODY_BYTES))


class LineageIntakeView(_IntakeView):
    """POST one OpenLineage event."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        try:
            event = self.body(request)
        except BodyError as exc:
            return _error(exc.status, exc.code, exc.message)
        if isinstance(event, list):
            return _error(
                400,
                "invalid_json",
                "Send one event as a JSON object; arrays go to /api/v1/lineage/batch.",
            )
        try:
            validate_event(event)
            result = ingest_event(event)
        except InvalidEvent as exc:
            return _invalid(exc)
        except ValidationError as exc:
            return _invalid(_django_invalid(exc))
        return Response(
            {"id": result.event.pk, "stored": result.created, "bodyHash": result.event.body_hash},
            status=201,
        )


class LineageEndpoint(LineageIntakeView):
    """``/api/v1/lineage``: POST takes an event, GET answers Marquez's lineage graph."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, parameters=NODE)
    def get(self, request):
        return LineageGraphView.get(self, request)


class LineageBatchView(OutsideRequestTransaction, _IntakeView):
    """POST a JSON array of events; each is validated and stored on its own, in its own
    transaction (an event stored stays stored when a later one fails)."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        try:
            events = self.body(request)
        except BodyError as exc:
            return _error(exc.status, exc.code, exc.message)
        if not isinstance(events, list):
            return _error(400, "invalid_json", "The batch endpoint takes a JSON array of events.")
        failed = []
        stored = duplicates = 0
        with ingest_cache() as cache:
            for index, event in enumerate(events):
                try:
                    validate_event(event)
                    with transaction.atomic():
                        result = ingest_event(event)
                except InvalidEvent as exc:
                    failed.append({"index": index, "reason": str(exc), "retriable": False})
                    continue
                except ValidationError as exc:
                    cache.clear()  # rows created inside the rolled-back transaction are gone
                    reason = str(_django_invalid(exc))
                    failed.append({"index": index, "reason": reason, "retriable": False})
                    continue
                except DatabaseError as exc:
                    cache.clear()
                    reason = f"database: {exc}"[:300]
                    failed.append({"index": index, "reason": reason, "retriable": True})
                    continue
                stored += result.created
                duplicates += not result.created
        body = {
            "status": "partial_success" if failed else "success",
            "summary": {
                "received": len(events),
                "successful": len(events) - len(failed),
                "failed": len(failed),
                "stored": stored,
                "duplicates": duplicates,
            },
            "failed_events": failed,
        }
        return Response(body, status=200)


class LineageEventListView(APIView):
    """GET the raw events, newest first, as Marquez's /api/v1/events/lineage."""

    permission_classes = [IsAuthenticated, TokenScopePermission]
    pages = MarquezPagination("events", max_limit=1000)

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("before", OpenApiTypes.DATETIME),
            OpenApiParameter("after", OpenApiTypes.DATETIME),
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
    )
    def get(self, request):
        queryset = filtered(LineageEventFilter, request, LineageEvent.objects.all())
        events, total = self.pages.paginate(
            request,
            queryset.order_by("-event_time", "-pk").values_list("body", flat=True),
            clamp=True,
        )
        return Response({"events": events, "totalCount": total})
