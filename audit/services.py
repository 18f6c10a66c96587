"""Appending to the audit trail."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, canonical_pieces, event_hash
from audit.context import current, current_actor
from audit.models import AuditChainHead, AuditEvent


def to_json(value):
    """Normalise a value to what a JSON column gives back, so hashes match after a round trip."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def object_label(obj) -> tuple[str, str]:
    return obj._meta.label_lower, str(obj.pk)


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
        seed = AuditChainHead(
            pk=1,
            last_seq=last["seq"] if last else 0,
            last_hash=last["hash"] if last else GENESIS_HASH,
        )
        AuditChainHead.objects.bulk_create([seed], ignore_conflicts=True)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


def record(
    action: str,
    *,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    before=None,
    after=None,
) -> AuditEvent:
    """Append one event, in the caller's transaction, after every earlier one.

    The chain head row is locked first, so concurrent writers queue and the
    chain never forks; the lock is released when the caller's transaction ends.
    On PostgreSQL the whole append is one call of the ``audit_append()``
    function (migration 0003); elsewhere, and to seed the head, it is done here.
    """
    if obj is not None:
        object_type, object_id = object_label(obj)
    ctx = current()
    actor = current_actor()
    event = AuditEvent(
        created_at=timezone.now(),
        actor_id=actor.user_id,
        actor_username=actor.username[:150],
        actor_token=actor.token[:200],
        action=action[:64],
        object_type=object_type[:100],
        object_id=str(object_id)[:200],
        before=to_json(before),
        after=to_json(after),
        request_id=ctx.request_id[:64],
        source_address=ctx.source_address,
    )
    # One statement is atomic on its own, in the caller's transaction or outside one.
    if _uses_append_function() and _append_in_database(event):
        return event
    # No savepoint: the event belongs to the caller's transaction and fails with it.
    with transaction.atomic(savepoint=False):
        head = _locked_head()
        event.seq = head.last_seq + 1
        event.prev_hash = head.last_hash
        event.hash = event_hash(event.as_record())
        event.save(force_insert=True)
        AuditChainHead.objects.filter(pk=1).update(last_seq=event.seq, last_hash=event.hash)
    return event


def _uses_append_function() -> bool:
    """PostgreSQL with a UTF-8 database: the server hashes the same bytes Python would."""
    if connection.vendor != "postgresql":
        return False
    known = getattr(connection, "_govreg_utf8", None)
    if known is None:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_encoding")
            known = cursor.fetchone()[0].upper() in {"UTF8", "UTF-8"}
        connection._govreg_utf8 = known
    return known


def _append_in_database(event: AuditEvent) -> bool:
    """One round trip: lock the head, hash, insert, move the head (audit_append())."""
    pieces = canonical_pieces(event.as_record())
    if pieces is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM audit_append(%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb,"
            " %s, %s, %s, %s, %s)",
            [
                event.created_at,
                event.actor_id,
                event.actor_username,
                event.actor_token,
                event.action,
                event.object_type,
                event.object_id,
                None if event.before is None else json.dumps(event.before),
                None if event.after is None else json.dumps(event.after),
                event.request_id,
                event.source_address,
                *pieces,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return False  # no chain head yet: the ORM path seeds it
    event.pk, event.seq, event.prev_hash, event.hash = row
    event._state.adding = False
    event._state.db = connection.alias
    return True


def record_decision(action: str, obj, **details) -> AuditEvent:
    """A decision (approval, rejection, acceptance, triage...) with its reasons."""
    return record(action, obj=obj, after=details or None)
