from celery import shared_task
from django.db import OperationalError

from audit.context import acting_as
from audit.services import sign_checkpoint
from audit.signing import verification_key
from audit.verify import verify_trail
from config.celery_tasks import RetryingTask


@shared_task(name="audit.verify_chain")
def verify_chain() -> dict:
    """Walk the chain and check the checkpoints (nightly from beat); the answer says how far
    it is intact, and which signed checkpoint it extends."""
    report = verify_trail(public_key=verification_key())
    return {
        "intact": report.intact,
        "verified": report.verified,
        "first_bad_seq": report.first_bad_seq,
        "reason": report.reason,
        "checkpoint": None if report.checkpoint is None else report.checkpoint.tree_size,
    }


@shared_task(name="audit.sign_checkpoint")
def sign_audit_checkpoint() -> dict:
    """Sign the trail's current Merkle root (hourly from beat); idempotent."""
    checkpoint = sign_checkpoint()
    if checkpoint is None:
        return {"tree_size": 0}
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "key_id": checkpoint.key_id,
    }


@shared_task(
    name="audit.run_export",
    base=RetryingTask,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def run_export(export_id: int) -> dict:
    """Build an audit export's signed bundle, reporting progress on its row; a worker lost
    half-way hands it back (acks late) and it is built again from the start."""
    from audit import exports

    with acting_as(name="audit.run_export"):
        export = exports.run(export_id)
    return {"id": export.pk, "status": export.status, "events": export.events}
