"""Verifying the stored trail: the chain, its head, and every signed checkpoint.

Read-only. ``verify_audit`` and the nightly task both answer from here; the
checks themselves are ``govreg_verify``'s, the same an auditor runs offline.
"""

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.chain import check_log
from audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from govreg_verify.checkpoint import Checkpoint, CheckpointError, key_id, open_note
from govreg_verify.log import LogCheck, extension_problem


@dataclass
class TrailReport:
    """The answer: how many events form an intact chain, and what is wrong if anything.

    ``first_bad_seq`` and ``reason`` locate a break in the chain (or a cut end);
    ``message`` says in one sentence what failed, chain or checkpoint.
    ``checkpoint`` is the latest signed checkpoint the trail extends.
    """

    verified: int
    first_bad_seq: int | None = None
    reason: str = ""
    message: str = ""
    checkpoint: Checkpoint | None = None
    checkpoint_key_id: str = ""

    @property
    def intact(self) -> bool:
        return not self.message


def verify_trail(
    *, public_key: Ed25519PublicKey | None, external_notes: tuple[str, ...] = ()
) -> TrailReport:
    """Walk every event, then hold the chain against each signed checkpoint.

    ``public_key`` checks the signatures (the configured key's public half, or
    an exported one); ``external_notes`` are checkpoint notes kept outside the
    database (a regulator's copy, an export), which the trail must extend too.
    """
    rows = list(AuditCheckpoint.objects.order_by("tree_size"))
    external = []
    for note in external_notes:
        if public_key is None:
            return _failed(0, "no public key to check the given checkpoint with")
        try:
            external.append(open_note(note, public_key))
        except CheckpointError as exc:
            return _failed(0, f"the given checkpoint does not verify: {exc}")
    sizes = {row.tree_size for row in rows} | {cp.tree_size for cp in external}
    records = (event.as_record() for event in AuditEvent.objects.order_by("seq").iterator(2000))
    result = check_log(records, root_sizes=sizes)
    if not result.intact:
        return TrailReport(
            verified=result.verified,
            first_bad_seq=result.first_bad_seq,
            reason=result.reason,
            message=(
                f"audit chain broken at sequence {result.first_bad_seq}: {result.reason} "
                f"({result.verified} verified before it)"
            ),
        )
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_seq != result.verified:
        reason = (
            f"chain head records {head.last_seq} events but {result.verified} remain "
            "(events removed from the end)"
        )
        return TrailReport(
            verified=result.verified,
            first_bad_seq=result.verified + 1,
            reason=reason,
            message=f"audit chain broken at sequence {result.verified + 1}: {reason}",
        )
    report = TrailReport(verified=result.verified)
    if not rows and not external:
        return report
    if public_key is None:
        return _failed(
            result.verified,
            "the trail has signed checkpoints but no key to check them with: set "
            "GOVREG_AUDIT_SIGNING_KEY, or pass the exported public key",
        )
    for row in rows:
        problem = _row_problem(row, result, public_key, latest=row is rows[-1])
        if problem:
            return _failed(
                result.verified,
                f"audit trail does not extend its signed checkpoint of {row.tree_size} events"
                f" (signed {row.created_at:%Y-%m-%d %H:%M} UTC): {problem}",
            )
    for checkpoint in external:
        problem = extension_problem(result, checkpoint.tree_size, checkpoint.root_hash)
        if problem:
            return _failed(
                result.verified,
                f"audit trail does not extend the given checkpoint of {checkpoint.tree_size}"
                f" events: {problem}",
            )
    if rows:
        latest = rows[-1]
        report.checkpoint = Checkpoint.parse(latest.signed_text)
        report.checkpoint_key_id = latest.key_id
    return report


def _row_problem(
    row: AuditCheckpoint, result: LogCheck, public_key: Ed25519PublicKey, *, latest: bool
) -> str | None:
    try:
        stated = Checkpoint.parse(row.signed_text)
    except CheckpointError as exc:
        return f"its signed text is unreadable: {exc}"
    if stated.tree_size != row.tree_size or stated.root_hash.hex() != row.root_hash:
        return "its stored size or root differs from the text that was signed (row altered)"
    # The latest must carry the configured key; older ones may predate a key rotation.
    if latest or row.key_id == key_id(stated.origin, public_key).hex():
        try:
            note = row.note()
        except ValueError:
            return "its stored signature or key id is malformed (row altered)"
        try:
            open_note(note, public_key)
        except CheckpointError as exc:
            return str(exc)
    return extension_problem(result, row.tree_size, stated.root_hash)


def _failed(verified: int, message: str) -> TrailReport:
    return TrailReport(verified=verified, reason=message, message=message)
