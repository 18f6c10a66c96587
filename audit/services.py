"""Appending to the audit trail."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, event_hash
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
    """
    if obj is not None:
        object_type, object_id = object_label(obj)
    ctx = current()
    actor = current_actor()
    # No savepoint: the event belongs to the caller's transaction and fails with it.
    with transaction.atomic(savepoint=False):
        head = _locked_head()
        event = AuditEvent(
            seq=head.last_seq + 1,
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
            prev_hash=head.last_hash,
        )
        event.hash = event_hash(event.as_record())
        event.save(force_insert=True)
        AuditChainHead.objects.filter(pk=1).update(last_seq=event.seq, last_hash=event.hash)
    return event


def record_decision(action: str, obj, **details) -> AuditEvent:
    """A decision (approval, rejection, acceptance, triage...) with its reasons."""
    return record(action, obj=obj, after=details or None)
