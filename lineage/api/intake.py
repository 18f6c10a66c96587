"""OpenLineage intake with Marquez's wire contract: POST /api/v1/lineage (and /batch).

A RunEvent, DatasetEvent or JobEvent is validated against our schema (422
with the JSON path of the first violation; 400 for a value no JSON column
holds), stored once (201 again for a retry of the same event) and projected
onto the lineage records in a transaction of its own, or, with queued projection
(``lineage.queue``), stored with its queue row and its audit event (one statement
on PostgreSQL) and projected by a worker.

The batch endpoint takes at most ``GOVREG_LINEAGE_MAX_BATCH_EVENTS`` events
(413 above it). It validates every event, then stores and projects the valid
ones as sets, ``GOVREG_LINEAGE_BATCH_CHUNK`` events per transaction (so
another writer waits for one chunk at most, never for the whole batch). Only
when a chunk fails is it done again one event per transaction, to store the
good events and report the bad ones. The answer lists the first
``LISTED_FAILURES`` failures and summarises the rest; a retried batch stores
nothing twice.
"""

import gc
from collections import Counter
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ActionPermission, TokenScopePermission
from config.api import OutsideRequestTransaction, error_body
from lineage.api.body import BodyError, parse_json, read_body
from lineage.api.reads import NODE, LineageGraphView
from lineage.queue import catch_up, intake, intake_one
from lineage.services import ingest_cache
from lineage.validation import InvalidEvent, validate_event

LISTED_FAILURES = 100  # failed events listed one by one in a batch's answer


def _error(status: int, code: str, message: str, fields: dict | None = None) -> Response:
    return Response(error_body(status, code, message, fields), status=status)


def _invalid(exc: InvalidEvent) -> Response:
    return _error(exc.status, exc.code, str(exc), {exc.field: [exc.reason]})


def _django_invalid(exc: ValidationError) -> InvalidEvent:
    if hasattr(exc, "error_dict"):
        name, errors = next(iter(exc.error_dict.items()))
        return InvalidEvent(f"$.{name}", errors[0].messages[0])
    return InvalidEvent("$", exc.messages[0])


@contextmanager
def _cycle_collection_paused():
    """Pause the cyclic garbage collector for the block (a batch's request).

    A batch parses into tens of thousands of dicts and lists that live until the
    answer, so they outlive the young collections and each batch moves them all to
    the oldest generation, whose full collections walk the whole process heap: in
    all, a tenth of a 100-event batch's time or more. None of them is in a reference
    cycle, so reference counting frees them when the request ends; paused, nothing
    is collected or promoted meanwhile. The collector runs again after the block.
    """
    enabled = gc.isenabled()  # another thread may have paused it: leave it to that one
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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


class LineageIntakeView(OutsideRequestTransaction, _IntakeView):
    """POST one OpenLineage event: stored in a transaction of its own (queued on
    PostgreSQL, one statement: ``lineage.queue.intake_one``)."""

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
            result = intake_one(event)
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
        catch_up()
        return LineageGraphView.get(self, request)


class LineageBatchView(OutsideRequestTransaction, _IntakeView):
    """POST a JSON array of events; each is validated and stored on its own, in its own
    transaction (an event stored stays stored when a later one fails)."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        with _cycle_collection_paused():
            return self._post(request)

    def _post(self, request):
        try:
            events = self.body(request)
        except BodyError as exc:
            return _error(exc.status, exc.code, exc.message)
        if not isinstance(events, list):
            return _error(400, "invalid_json", "The batch endpoint takes a JSON array of events.")
        cap = settings.GOVREG_LINEAGE_MAX_BATCH_EVENTS
        if len(events) > cap:
            return _error(
                413,
                "too_many_events",
                f"A batch carries at most {cap} events (GOVREG_LINEAGE_MAX_BATCH_EVENTS); "
                f"this one has {len(events)}: split it.",
            )
        failed = []
        valid = []
        for index, event in enumerate(events):
            try:
                validate_event(event)
            except InvalidEvent as exc:
                failed.append(_failure(index, str(exc), exc.path, retriable=False))
                continue
            valid.append((index, event))
        stored = duplicates = 0
        size = settings.GOVREG_LINEAGE_BATCH_CHUNK
        with ingest_cache() as cache:
            for start in range(0, len(valid), size):
                chunk = valid[start : start + size]
                try:
                    with transaction.atomic():
                        results = intake([event for _, event in chunk])
                except (ValidationError, DatabaseError):
                    cache.clear()  # rows created inside the rolled-back transaction are gone
                    results = self._one_by_one(chunk, failed, cache)
                for result in results:
                    stored += result.created
                    duplicates += not result.created
        failed.sort(key=lambda f: f["index"])
        body = {
            "status": "partial_success" if failed else "success",
            "summary": {
                "received": len(events),
                "successful": len(events) - len(failed),
                "failed": len(failed),
                "stored": stored,
                "duplicates": duplicates,
            },
            "failed_events": [
                {k: v for k, v in f.items() if k != "field"} for f in failed[:LISTED_FAILURES]
            ],
        }
        if len(failed) > LISTED_FAILURES:
            rest = failed[LISTED_FAILURES:]
            body["failed_events_not_listed"] = {
                "count": len(rest),
                "firstIndex": rest[0]["index"],
                "retriable": sum(f["retriable"] for f in rest),
                "byField": dict(Counter(f["field"] for f in rest).most_common(20)),
            }
        return Response(body, status=200)

    @staticmethod
    def _one_by_one(chunk, failed: list, cache) -> list:
        """A chunk that failed as a whole, again one event per transaction: the good
        events are stored, each bad one is reported."""
        results = []
        for index, event in chunk:
            try:
                with transaction.atomic():
                    results.extend(intake([event]))
            except ValidationError as exc:
                cache.clear()
                invalid = _django_invalid(exc)
                failed.append(_failure(index, str(invalid), invalid.path, retriable=False))
            except DatabaseError as exc:
                cache.clear()
                failed.append(_failure(index, f"database: {exc}"[:300], "$", retriable=True))
        return results


def _failure(index: int, reason: str, path: str, *, retriable: bool) -> dict:
    return {"index": index, "reason": reason, "retriable": retriable, "field": path}
