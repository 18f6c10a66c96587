from celery import shared_task

from audit.services import sign_checkpoint
from audit.signing import verification_key
from audit.verify import verify_trail


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
