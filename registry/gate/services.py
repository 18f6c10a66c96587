"""The deployment gate's verbs: ask (deploy or rollback), evaluate, approve, reject,
report deployed/failed.

Every verb that changes a request locks its row (``select_for_update``) so that
concurrent approvals and duplicate pipeline calls stay consistent, and writes its
audit event in the same transaction. ``evaluate`` is safe to call on every read:
it judges without a lock and only takes the lock (and writes) when the answer,
the checks or the fingerprint changed.

A request is

- **denied** when an approver rejected it or a check failed that cannot pass
  without a new version (``final``); denied is the end;
- **approved** when every registered check passes (``approvals-complete`` among
  them);
- **pending** otherwise, with the failing checks' reasons.

Approvals are tied to what the approver saw: the fingerprint parts of the version
(``registry.gate.checks.fingerprint_parts``) when they approved. Evidence that
*arrives* without changing any of that (a missing evaluation now passing) leaves
them standing; a change of what they saw (training data status, hash or inputs,
the model card, an evaluation result changed, removed or failing) lapses them
(kept, marked) and the request goes back to pending with "approvals lapsed:
lineage changed (...)" naming the parts.

One request is open per version, environment and kind (pending, or approved and
not yet reported deployed or failed; the database guards it): asking again
returns it with its approvals, unless the caller asks for a new one, which
supersedes it.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from accounts.permissions import may
from audit.services import record_decision
from registry.choices import RequestKind, RequestOutcome, RequestStatus, Verdict
from registry.gate import checks as gate_checks
from registry.gate import decisions
from registry.gate.exceptions import GateConflict, GateRefused, ProtectedEnvironment
from registry.models import Approval, DeploymentRequest
from registry.models.gate import OPEN_REQUEST
from registry.services import deploy, rollback_refusal

__all__ = ["GateConflict", "GateRefused", "ProtectedEnvironment"]

LAPSE_PREFIX = "approvals lapsed: lineage changed"
FINAL_STATUSES = frozenset({RequestStatus.DENIED, RequestStatus.SUPERSEDED})


@dataclass
class Judgement:
    """What the gate concludes about a request at one moment (nothing written)."""

    status: str
    checks: list[dict]
    reasons: list[str]
    required: list[dict]
    fingerprint: str
    parts: dict
    lapse_reason: str = ""
    to_lapse: dict[int, str] = field(default_factory=dict)
    lapsing: list[str] = field(default_factory=list)


# --- the gate's own context for its checks ---------------------------------------


@dataclass
class GateContext:
    """What the built-in checks need, computed once per evaluation."""

    now: object
    right: object
    requirements: list[dict]
    conflicts: dict[int, str]
    approvals: list
    fingerprint: str
    lapse_reason: str


def context_of(deployment_request) -> GateContext:
    """The evaluation context the gate attached to the request (see ``judge``)."""
    return deployment_request._gate_context


def load(request_id: int, *, lock: bool = False) -> DeploymentRequest | None:
    """A request with everything the gate and its answer need (approvals prefetched).

    ``lock`` takes the row lock (inside a transaction) first, with a query of its own,
    then reads the request and its relations with a fresh statement: on PostgreSQL a
    statement that waited for the lock sees the locked row as committed by the
    other transaction but joined rows (the deployment it just created) as they were
    when it started, so reading them in the locking statement could answer
    ``deployment: null`` for a request that has one."""
    if lock:
        locked = DeploymentRequest.objects.select_for_update().filter(pk=request_id)
        if not locked.values_list("pk", flat=True).first():
            return None
    queryset = DeploymentRequest.objects.select_related(
        "model_version__model__team",
        "model_version__training_run__job",
        "model_version__registered_by",
        "environment",
        "requested_by",
        "deployment",
    ).prefetch_related(
        Prefetch(
            "approvals",
            queryset=Approval.objects.select_related("approver").order_by("created_at", "pk"),
        )
    )
    return queryset.filter(pk=request_id).first()


def _load(request_id: int, *, lock: bool = False) -> DeploymentRequest:
    deployment_request = load(request_id, lock=lock)
    if deployment_request is None:
        raise DeploymentRequest.DoesNotExist(f"No deployment request #{request_id}.")
    return deployment_request


def _approvals(deployment_request) -> list[Approval]:
    if "approvals" in getattr(deployment_request, "_prefetched_objects_cache", {}):
        return list(deployment_request.approvals.all())
    return list(
        Approval.objects.filter(request_id=deployment_request.pk)
        .select_related("approver")
        .order_by("created_at", "pk")
    )


def describe_duration(value) -> str:
    if value.days and not value.seconds:
        return f"{value.days} day{'s' if value.days != 1 else ''}"
    hours = value.total_seconds() / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


changed_parts = gate_checks.changed_parts


def judge(deployment_request, now=None, approvals=None) -> Judgement:
    """Run every registered check against the request as it stands; write nothing."""
    now = now or timezone.now()
    with gate_checks.evaluation():
        return _judge(deployment_request, now, approvals)


def _judge(deployment_request, now, approvals) -> Judgement:
    version = deployment_request.model_version
    model = version.model
    environment = deployment_request.environment
    parts = gate_checks.fingerprint_parts(version)
    fingerprint = gate_checks.fingerprint_of(parts)
    approvals = _approvals(deployment_request) if approvals is None else approvals

    right = decisions.rights_for(deployment_request.action, model, environment)
    requirements = decisions.requirements_for(right, model, environment)
    conflicts = {}
    if right is None or right.separation_of_duties:
        conflicts = decisions.conflicted_users(version, deployment_request.requested_by_id)

    to_lapse: dict[int, str] = {}
    lapsing: set[str] = set()
    for approval in approvals:
        if approval.lapsed_at is not None:
            continue
        if approval.fingerprint != fingerprint:
            names = _lapsing_for(approval, deployment_request, parts)
            if names:
                lapsing.update(names)
                to_lapse[approval.pk] = f"{LAPSE_PREFIX} ({', '.join(names)})"
                continue
        if right is not None and approval.created_at + right.approval_valid_for <= now:
            to_lapse[approval.pk] = (
                f"approval expired after {describe_duration(right.approval_valid_for)}"
            )
    counted = [a for a in approvals if a.lapsed_at is None and a.pk not in to_lapse]
    # The latest lapse explains the approvals still missing, until someone approves again.
    lapses = [(a.lapsed_at, a.lapse_reason) for a in approvals if a.lapsed_at is not None]
    lapses += [(now, reason) for reason in to_lapse.values()]
    lapse_reason = ""
    if lapses:
        latest_at = max(at for at, _ in lapses)
        latest = [reason for at, reason in lapses if at == latest_at]
        newest_valid = max((a.created_at for a in counted), default=None)
        if newest_valid is None or newest_valid < latest_at:
            lapse_reason = next((r for r in latest if r.startswith(LAPSE_PREFIX)), latest[0])

    deployment_request._gate_context = GateContext(
        now=now,
        right=right,
        requirements=requirements,
        conflicts=conflicts,
        approvals=counted,
        fingerprint=fingerprint,
        lapse_reason=lapse_reason,
    )
    results = gate_checks.run_checks(deployment_request)
    counts = (
        decisions.approval_counts(right, counted, conflicts, now, requirements=requirements)
        if right is not None
        else []
    )

    rejections = [a for a in counted if a.verdict == Verdict.REJECT]
    reasons = [r.reason for r in results if not r.passed]
    if rejections:
        status = RequestStatus.DENIED
        reasons = [
            f"rejected by {a.approver.get_username()}: {a.comment}" for a in rejections
        ] + reasons
    elif any(not r.passed and r.final for r in results):
        status = RequestStatus.DENIED
    elif all(r.passed for r in results):
        status = RequestStatus.APPROVED
    else:
        status = RequestStatus.PENDING
    return Judgement(
        status=status,
        checks=[r.as_dict() for r in results],
        reasons=reasons,
        required=counts,
        fingerprint=fingerprint,
        parts=parts,
        lapse_reason=lapse_reason,
        to_lapse=to_lapse,
        lapsing=sorted(lapsing),
    )


def _lapsing_for(approval, deployment_request, parts) -> list[str]:
    """The parts that changed since ``approval`` in a way that lapses it (see the
    module docstring). Approvals recorded before the parts were kept per approval
    lapse on any change of the request's fingerprint, as they always did."""
    if approval.fingerprint_parts:
        return gate_checks.lapsing_parts(approval.fingerprint_parts, parts)
    return changed_parts(deployment_request.fingerprint_parts or {}, parts) or ["fingerprint"]


def is_settled(deployment_request) -> bool:
    """Denied, superseded, or deployed: nothing can change it any more."""
    return (
        deployment_request.status in FINAL_STATUSES
        or deployment_request.outcome == RequestOutcome.DEPLOYED
    )


def _differs(deployment_request, judgement: Judgement) -> bool:
    return bool(
        judgement.to_lapse
        or judgement.status != deployment_request.status
        or judgement.checks != deployment_request.checks
        or judgement.reasons != deployment_request.reasons
        or judgement.required != deployment_request.required
        or judgement.fingerprint != deployment_request.fingerprint
    )


def _apply(deployment_request, judgement: Judgement, now) -> None:
    """Write a judgement to a locked request, with its audit events."""
    changed = changed_parts(deployment_request.fingerprint_parts or {}, judgement.parts)
    if judgement.to_lapse:
        for approval in Approval.objects.filter(pk__in=list(judgement.to_lapse)):
            approval.lapsed_at = now
            approval.lapse_reason = judgement.to_lapse[approval.pk]
            approval.save(update_fields=["lapsed_at", "lapse_reason"])
        record_decision(
            "gate.lapse",
            deployment_request,
            approvals=sorted(judgement.to_lapse),
            reasons=sorted(set(judgement.to_lapse.values())),
            changed=judgement.lapsing or changed,
            fingerprint=judgement.fingerprint,
        )
    elif changed and deployment_request.fingerprint:
        # What the version shows changed without lapsing anything: evidence arrived
        # (or nobody had approved yet). Kept, so the trail says why approvals stood.
        record_decision(
            "gate.evidence",
            deployment_request,
            changed=changed,
            approvals_kept=sorted(
                a.pk for a in _approvals(deployment_request) if a.lapsed_at is None
            ),
            fingerprint=judgement.fingerprint,
        )
    previous = deployment_request.status
    checks_changed = judgement.checks != deployment_request.checks
    deployment_request.status = judgement.status
    deployment_request.checks = judgement.checks
    deployment_request.reasons = judgement.reasons
    deployment_request.required = judgement.required
    deployment_request.fingerprint = judgement.fingerprint
    deployment_request.fingerprint_parts = judgement.parts
    if previous != judgement.status and judgement.status != RequestStatus.PENDING:
        deployment_request.decided_at = now
    deployment_request.save(
        update_fields=[
            "status",
            "checks",
            "reasons",
            "required",
            "fingerprint",
            "fingerprint_parts",
            "decided_at",
            "updated_at",
        ]
    )
    if previous != judgement.status or checks_changed:
        record_decision(
            f"gate.{judgement.status}" if previous != judgement.status else "gate.checks",
            deployment_request,
            previous=previous,
            status=judgement.status,
            checks=judgement.checks,
            reasons=judgement.reasons,
        )


def _evaluate_locked(deployment_request, now) -> DeploymentRequest:
    if is_settled(deployment_request):
        return deployment_request
    judgement = judge(deployment_request, now)
    if _differs(deployment_request, judgement):
        _apply(deployment_request, judgement, now)
    return deployment_request


def evaluate(deployment_request, now=None) -> DeploymentRequest:
    """Re-judge a request; return it (reloaded) with its current status.

    Judges without a lock first; only when something changed does it lock the
    row, judge again and write. Settled requests (denied, deployed) are left alone.
    """
    now = now or timezone.now()
    if is_settled(deployment_request):
        return deployment_request
    judgement = judge(deployment_request, now)
    if not _differs(deployment_request, judgement):
        return deployment_request
    with transaction.atomic():
        _evaluate_locked(_load(deployment_request.pk, lock=True), now)
    return _load(deployment_request.pk)


# --- verbs --------------------------------------------------------------------


def open_request_id(model_version, environment, kind=RequestKind.DEPLOY) -> int | None:
    """The id of the open request for this version, environment and kind, if any."""
    return (
        DeploymentRequest.objects.filter(
            OPEN_REQUEST, model_version=model_version, environment=environment, kind=kind
        )
        .values_list("pk", flat=True)
        .first()
    )


def ask(
    *,
    model_version,
    environment,
    user,
    kind: str = RequestKind.DEPLOY,
    new: bool = False,
    pipeline_run_url: str = "",
    commit: str = "",
    note: str = "",
    now=None,
) -> tuple[DeploymentRequest, bool]:
    """A pipeline asks whether ``model_version`` may go to ``environment`` (``kind``
    deploy), or asks to put it back there (``kind`` rollback). Returns
    ``(request, created)``.

    While a request for the same version, environment and kind is open, asking
    again returns that request, re-judged, with its approvals (``created`` False;
    the re-ask is audited as ``gate.asked_again``). ``new`` asks for a new request
    anyway: the open one is superseded (closed, pointing at the new one). A new
    request is judged at once; its fingerprint is what approvals will be tied to.
    The partial unique constraint on open requests makes concurrent asks agree on
    one request.
    """
    now = now or timezone.now()
    if kind not in RequestKind.values:
        raise ValidationError({"kind": f"Use one of {', '.join(RequestKind.values)}."})
    if not may(user, "request", model_version.model):
        raise GateRefused(
            f"You may not request deployments of {model_version.model.name}: "
            "you need the change right on it (its team) or the pipeline role."
        )
    if kind == RequestKind.ROLLBACK:
        refusal = rollback_refusal(model_version, environment)
        if refusal:
            raise ValidationError({"version": refusal})
    for _ in range(3):  # an open request may close, or appear, between two statements
        if not new:
            existing = open_request_id(model_version, environment, kind)
            if existing is not None:
                answer = _asked_again(existing, user, pipeline_run_url, commit, now)
                if answer is not None:
                    return answer, False
                continue
        created = _create(
            model_version, environment, user, kind, new, pipeline_run_url, commit, note, now
        )
        if created is not None:
            return created, True
    raise GateConflict("Other requests for this version keep opening and closing; ask again.")


def create_request(
    *,
    model_version,
    environment,
    user,
    pipeline_run_url: str = "",
    commit: str = "",
    kind: str = RequestKind.DEPLOY,
    new: bool = False,
    note: str = "",
    now=None,
) -> DeploymentRequest:
    """``ask``, returning only the request (the open one, or a new one)."""
    deployment_request, _ = ask(
        model_version=model_version,
        environment=environment,
        user=user,
        kind=kind,
        new=new,
        pipeline_run_url=pipeline_run_url,
        commit=commit,
        note=note,
        now=now,
    )
    return deployment_request


def request_rollback(
    *,
    model_version,
    environment,
    user,
    new: bool = False,
    note: str = "",
    pipeline_run_url: str = "",
    commit: str = "",
    now=None,
) -> tuple[DeploymentRequest, bool]:
    """Ask to put ``model_version`` back in ``environment``: a rollback request, judged
    under the ``rollback`` decision right with the checks that apply to rollbacks.
    Refused (validation error on ``version``) unless the version was approved and
    live there before. Returns ``(request, created)`` like ``ask``."""
    return ask(
        model_version=model_version,
        environment=environment,
        user=user,
        kind=RequestKind.ROLLBACK,
        new=new,
        note=note,
        pipeline_run_url=pipeline_run_url,
        commit=commit,
        now=now,
    )


def _asked_again(request_id, user, pipeline_run_url, commit, now) -> DeploymentRequest | None:
    """Re-judge the open request someone asked for again and audit the ask; None when
    it closed in between (the caller then makes a new one)."""
    with transaction.atomic():
        deployment_request = _load(request_id, lock=True)
        if not deployment_request.is_open:
            return None
        _evaluate_locked(deployment_request, now)
        record_decision(
            "gate.asked_again",
            deployment_request,
            asked_by=user.get_username(),
            pipeline_run_url=pipeline_run_url or "",
            commit=commit or "",
            status=deployment_request.status,
        )
    return _load(request_id)


def _create(model_version, environment, user, kind, new, pipeline_run_url, commit, note, now):
    """Insert a new request (superseding the open one when ``new``); None when another
    caller's request took the open slot first and ``new`` was not asked."""
    # Judge before writing: the audit chain's lock is then held only for the writes.
    deployment_request = DeploymentRequest(
        kind=kind,
        model_version=model_version,
        environment=environment,
        requested_by=user,
        pipeline_run_url=pipeline_run_url or "",
        commit=commit or "",
        note=note or "",
    )
    judgement = judge(deployment_request, now, approvals=[])
    deployment_request.status = judgement.status
    deployment_request.checks = judgement.checks
    deployment_request.reasons = judgement.reasons
    deployment_request.required = judgement.required
    deployment_request.fingerprint = judgement.fingerprint
    deployment_request.fingerprint_parts = judgement.parts
    if judgement.status != RequestStatus.PENDING:
        deployment_request.decided_at = now
    deployment_request.full_clean(validate_constraints=False)
    with transaction.atomic():
        superseded = []
        if new:
            superseded = list(
                DeploymentRequest.objects.select_for_update()
                .filter(
                    OPEN_REQUEST,
                    model_version=model_version,
                    environment=environment,
                    kind=kind,
                )
                .values_list("pk", flat=True)
            )
            DeploymentRequest.objects.filter(pk__in=superseded).update(
                status=RequestStatus.SUPERSEDED, decided_at=now, updated_at=now
            )
        try:
            with transaction.atomic():
                deployment_request.save()
        except IntegrityError:
            if open_request_id(model_version, environment, kind) is None:
                raise
            return None
        record_decision(
            "gate.request",
            deployment_request,
            kind=kind,
            model=model_version.model.name,
            version=model_version.version,
            environment=environment.name,
            pipeline_run_url=deployment_request.pipeline_run_url,
            commit=deployment_request.commit,
            note=deployment_request.note,
            fingerprint=deployment_request.fingerprint,
            status=judgement.status,
            checks=judgement.checks,
            reasons=judgement.reasons,
            supersedes=superseded,
        )
        for old in DeploymentRequest.objects.filter(pk__in=superseded):
            old.superseded_by = deployment_request
            old.reasons = [
                f"superseded by request #{deployment_request.pk}: "
                f"{user.get_username()} asked for a new request"
            ]
            old.save(update_fields=["superseded_by", "reasons", "updated_at"])
            record_decision(
                "gate.superseded",
                old,
                previous="open",
                status=RequestStatus.SUPERSEDED,
                superseded_by=deployment_request.pk,
                asked_by=user.get_username(),
            )
    deployment_request._prefetched_objects_cache = {"approvals": Approval.objects.none()}
    return deployment_request


def _decide(request_id, user, verdict, comment, now) -> DeploymentRequest:
    now = now or timezone.now()
    comment = (comment or "").strip()
    if verdict == Verdict.REJECT and not comment:
        raise ValidationError({"comment": "A rejection needs a comment saying why."})
    with transaction.atomic():
        deployment_request = _load(request_id, lock=True)
        model = deployment_request.model_version.model
        allowed, reason = decisions.can_approve(user, deployment_request.action, model)
        if not allowed:
            raise GateRefused(reason)
        if deployment_request.outcome == RequestOutcome.DEPLOYED:
            raise GateConflict("This request has been deployed already; nothing to decide.")
        if deployment_request.status == RequestStatus.SUPERSEDED:
            raise GateConflict(
                f"This request was superseded by request #{deployment_request.superseded_by_id}; "
                "decide on that one."
            )
        if deployment_request.status == RequestStatus.DENIED:
            raise GateConflict("This request is denied; the pipeline must ask again.")
        _evaluate_locked(deployment_request, now)  # lapse stale approvals first
        if deployment_request.status == RequestStatus.DENIED:
            raise GateConflict("This request is denied; the pipeline must ask again.")
        conflicts = context_of(deployment_request).conflicts
        if user.pk in conflicts:
            raise GateRefused(
                f"Separation of duties: you {conflicts[user.pk]}, so you may not decide on it."
            )
        if Approval.objects.filter(
            request=deployment_request, approver=user, lapsed_at__isnull=True
        ).exists():
            raise GateConflict("You have already decided on this request.")
        approval = Approval(
            request=deployment_request,
            approver=user,
            verdict=verdict,
            comment=comment,
            roles=decisions.roles_snapshot(user),
            fingerprint=deployment_request.fingerprint,
            fingerprint_parts=deployment_request.fingerprint_parts,
            created_at=now,
        )
        approval.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                approval.save()
        except IntegrityError:
            raise GateConflict("You have already decided on this request.")
        record_decision(
            "gate.approve" if verdict == Verdict.APPROVE else "gate.reject",
            deployment_request,
            approver=user.get_username(),
            comment=comment,
            roles=approval.roles,
            fingerprint=approval.fingerprint,
        )
        deployment_request._prefetched_objects_cache.pop("approvals", None)  # now stale
        judgement = judge(deployment_request, now)
        _apply(deployment_request, judgement, now)
    return _load(request_id)


def approve(request_id: int, user, comment: str = "", now=None) -> DeploymentRequest:
    """An approver approves: needs the approver role, the approve right on the model,
    no separation-of-duties conflict, and no earlier valid decision of theirs."""
    return _decide(request_id, user, Verdict.APPROVE, comment, now)


def reject(request_id: int, user, comment: str, now=None) -> DeploymentRequest:
    """An approver rejects, with a comment; the request is denied for good."""
    return _decide(request_id, user, Verdict.REJECT, comment, now)


def mark_deployed(request_id: int, user, note: str = "", now=None):
    """The pipeline shipped an approved request: record the Deployment, once.

    Returns ``(deployment_request, created)``; a repeated call returns the same
    deployment with ``created`` False (and, like the first, names it: the request is
    read after its lock, see ``load``).
    """
    now = now or timezone.now()
    with transaction.atomic():
        deployment_request = _load(request_id, lock=True)
        if not may(user, "report", deployment_request):
            raise GateRefused("Only the requester, the model's team or a pipeline reports this.")
        if deployment_request.outcome == RequestOutcome.DEPLOYED:
            return deployment_request, False
        _evaluate_locked(deployment_request, now)
        if deployment_request.status != RequestStatus.APPROVED:
            raise GateConflict(
                f"This request is {deployment_request.status}, not approved: "
                + ("; ".join(deployment_request.reasons) or "it may not be deployed.")
            )
        deployment = deploy(
            deployment_request.model_version,
            deployment_request.environment,
            user,
            deployment_request=deployment_request,
            note=note or f"deployment request #{deployment_request.pk}",
            now=now,
        )
        deployment_request.outcome = RequestOutcome.DEPLOYED
        deployment_request.deployment = deployment
        deployment_request.outcome_note = note
        deployment_request.reported_at = now
        deployment_request.save(
            update_fields=["outcome", "deployment", "outcome_note", "reported_at", "updated_at"]
        )
        record_decision(
            "gate.deployed",
            deployment_request,
            deployment=deployment.pk,
            model=deployment_request.model_version.model.name,
            version=deployment_request.model_version.version,
            environment=deployment_request.environment.name,
            note=note,
        )
    return _load(request_id), True


def mark_failed(request_id: int, user, note: str = "", now=None) -> DeploymentRequest:
    """The pipeline tried and failed to ship an approved request. It stays approved (a
    retry of the same rollout may still report ``deployed``) but is no longer open:
    asking again makes a new request. Reporting failed again changes nothing; on a
    request that is not approved (pending, denied, superseded) or already deployed
    it is a conflict naming the status."""
    now = now or timezone.now()
    with transaction.atomic():
        deployment_request = _load(request_id, lock=True)
        if not may(user, "report", deployment_request):
            raise GateRefused("Only the requester, the model's team or a pipeline reports this.")
        if deployment_request.outcome == RequestOutcome.DEPLOYED:
            raise GateConflict("This request was reported deployed; it cannot fail afterwards.")
        if deployment_request.status != RequestStatus.APPROVED:
            raise GateConflict(
                f"This request is {deployment_request.status}, not approved: there is no "
                "approved rollout to report failed."
            )
        if deployment_request.outcome == RequestOutcome.FAILED:
            return deployment_request
        deployment_request.outcome = RequestOutcome.FAILED
        deployment_request.outcome_note = note
        deployment_request.reported_at = now
        deployment_request.save(
            update_fields=["outcome", "outcome_note", "reported_at", "updated_at"]
        )
        record_decision("gate.failed", deployment_request, note=note)
    return _load(request_id)
