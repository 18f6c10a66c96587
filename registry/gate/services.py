"""The deployment gate's verbs: request, evaluate, approve, reject, report deployed/failed.

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

Approvals are tied to the fingerprint of the version (``registry.gate.checks.
fingerprint``) they were given on; when it changes, they lapse (kept, marked) and
the request goes back to pending with "approvals lapsed: lineage changed (...)".
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone
from guardian.core import ObjectPermissionChecker

from accounts.permissions import may
from accounts.roles import Role, has_role
from audit.services import record_decision
from registry.choices import DecisionAction, RequestOutcome, RequestStatus, Verdict
from registry.gate import checks as gate_checks
from registry.gate import decisions
from registry.models import Approval, DeploymentRequest

LAPSE_PREFIX = "approvals lapsed: lineage changed"


class GateConflict(Exception):
    """The request is in a state where this act makes no sense (HTTP 409)."""


class GateRefused(Exception):
    """The user may not do this to a request they can see (HTTP 403)."""


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
    ``lock`` takes the row lock (inside a transaction) before reading it."""
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
    if lock:
        queryset = queryset.select_for_update(of=("self",))
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


def _duration(value) -> str:
    if value.days and not value.seconds:
        return f"{value.days} day{'s' if value.days != 1 else ''}"
    hours = value.total_seconds() / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


def changed_parts(old: dict, new: dict) -> list[str]:
    """The fingerprint parts whose value differs between two ``fingerprint_parts``."""
    return sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))


def judge(deployment_request, now=None, approvals=None) -> Judgement:
    """Run every registered check against the request as it stands; write nothing."""
    now = now or timezone.now()
    with gate_checks.evaluation():
        return _judge(deployment_request, now, approvals)


def _judge(deployment_request, now, approvals) -> Judgement:
    version = deployment_request.model_version
    model = version.model
    parts = gate_checks.fingerprint_parts(version)
    fingerprint = gate_checks.fingerprint_of(parts)
    approvals = _approvals(deployment_request) if approvals is None else approvals

    right = decisions.rights_for(DecisionAction.DEPLOY, model, deployment_request.environment)
    requirements = decisions.requirements_for(right, model, deployment_request.environment)
    conflicts = {}
    if right is None or right.separation_of_duties:
        conflicts = decisions.conflicted_users(version, deployment_request.requested_by_id)

    to_lapse: dict[int, str] = {}
    lapse_reason = ""
    if deployment_request.fingerprint and fingerprint != deployment_request.fingerprint:
        names = changed_parts(deployment_request.fingerprint_parts or {}, parts)
        lapse_reason = f"{LAPSE_PREFIX} ({', '.join(names) or 'fingerprint'})"
    for approval in approvals:
        if approval.lapsed_at is not None:
            continue
        if approval.fingerprint != fingerprint:
            to_lapse[approval.pk] = lapse_reason or LAPSE_PREFIX
        elif right is not None and approval.created_at + right.approval_valid_for <= now:
            to_lapse[approval.pk] = f"approval expired after {_duration(right.approval_valid_for)}"
    counted = [a for a in approvals if a.lapsed_at is None and a.pk not in to_lapse]
    if not lapse_reason:
        latest_lapse = max(
            (a for a in approvals if a.lapsed_at is not None),
            key=lambda a: a.lapsed_at,
            default=None,
        )
        newest_valid = max((a.created_at for a in counted), default=None)
        if latest_lapse is not None and (
            newest_valid is None or newest_valid < latest_lapse.lapsed_at
        ):
            lapse_reason = latest_lapse.lapse_reason

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
    )


def is_settled(deployment_request) -> bool:
    """Denied, or deployed: nothing can change it any more."""
    return (
        deployment_request.status == RequestStatus.DENIED
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
            changed=changed_parts(deployment_request.fingerprint_parts or {}, judgement.parts),
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


def model_perms(user, model) -> frozenset[str]:
    """The user's permission codenames on ``model``: global ones (roles) and guardian's
    object permissions (person or group). Two queries per user and model, cached on
    the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cache = user.__dict__.setdefault("_gate_model_perms", {})
    if model.pk not in cache:
        codenames = {
            name.split(".", 1)[1]
            for name in user.get_all_permissions()
            if name.startswith("registry.") and name.endswith("_mlmodel")
        }
        codenames.update(ObjectPermissionChecker(user).get_perms(model))
        cache[model.pk] = frozenset(codenames)
    return cache[model.pk]


def may_see(user, model) -> bool:
    """Whoever may view the model (team, board, auditor, admin) or approve it."""
    granted = model_perms(user, model)
    return "view_mlmodel" in granted or "approve_mlmodel" in granted


def may_request(user, model) -> bool:
    """Requesting a deployment needs the change right on the model (its team) or the
    pipeline role with sight of it (a shared CI service account)."""
    if "change_mlmodel" in model_perms(user, model):
        return True
    return has_role(user, Role.PIPELINE, Role.ADMIN) and may_see(user, model)


def create_request(
    *, model_version, environment, user, pipeline_run_url: str = "", commit: str = "", now=None
) -> DeploymentRequest:
    """A pipeline asks whether ``model_version`` may go to ``environment``. The request
    is judged at once; its fingerprint is what approvals will be tied to."""
    now = now or timezone.now()
    if not may_request(user, model_version.model):
        raise GateRefused(
            f"You may not request deployments of {model_version.model.name}: "
            "you need the change right on it (its team) or the pipeline role."
        )
    # Judge before writing: the audit chain's lock is then held only for the writes.
    deployment_request = DeploymentRequest(
        model_version=model_version,
        environment=environment,
        requested_by=user,
        pipeline_run_url=pipeline_run_url or "",
        commit=commit or "",
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
        deployment_request.save()
        record_decision(
            "gate.request",
            deployment_request,
            model=model_version.model.name,
            version=model_version.version,
            environment=environment.name,
            pipeline_run_url=deployment_request.pipeline_run_url,
            commit=deployment_request.commit,
            fingerprint=deployment_request.fingerprint,
            status=judgement.status,
            checks=judgement.checks,
            reasons=judgement.reasons,
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
        allowed, reason = decisions.can_approve(user, DecisionAction.DEPLOY, model)
        if not allowed:
            raise GateRefused(reason)
        if deployment_request.outcome == RequestOutcome.DEPLOYED:
            raise GateConflict("This request has been deployed already; nothing to decide.")
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


def may_report(user, deployment_request) -> bool:
    """The requester, the model's team, or a pipeline account reports the outcome."""
    return (
        deployment_request.requested_by_id == user.pk
        or may(user, "change", deployment_request.model_version.model)
        or has_role(user, Role.PIPELINE, Role.ADMIN)
    )


def mark_deployed(request_id: int, user, note: str = "", now=None):
    """The pipeline shipped an approved request: record the Deployment, once.

    Returns ``(deployment_request, created)``; a repeated call returns the same
    deployment with ``created`` False.
    """
    from registry.services import deploy

    now = now or timezone.now()
    with transaction.atomic():
        deployment_request = _load(request_id, lock=True)
        if not may_report(user, deployment_request):
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
    """The pipeline tried and failed to ship. The request stays approved (a retry may
    still report ``deployed``); a deployed request cannot fail afterwards."""
    now = now or timezone.now()
    with transaction.atomic():
        deployment_request = _load(request_id, lock=True)
        if not may_report(user, deployment_request):
            raise GateRefused("Only the requester, the model's team or a pipeline reports this.")
        if deployment_request.outcome == RequestOutcome.DEPLOYED:
            raise GateConflict("This request was reported deployed; it cannot fail afterwards.")
        deployment_request.outcome = RequestOutcome.FAILED
        deployment_request.outcome_note = note
        deployment_request.reported_at = now
        deployment_request.save(
            update_fields=["outcome", "outcome_note", "reported_at", "updated_at"]
        )
        record_decision("gate.failed", deployment_request, note=note)
    return _load(request_id)
