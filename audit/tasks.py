from celery import shared_task

from audit.chain import verify_records
from audit.models import AuditEvent


@shared_task(name="audit.verify_chain")
def verify_chain() -> dict:
    """Walk the chain (nightly from beat); the answer says how far it is intact."""
    records = (event.as_record() for event in AuditEvent.objects.order_by("seq").iterator(2000))
    verified, bad_seq, reason = verify_records(records)
    return {"verified": verified, "first_bad_seq": bad_seq, "reason": reason}
