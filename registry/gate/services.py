"""The deployment gate's verbs: ask (deploy or rollback), evaluate, approve, reject,
report deployed/failed.

Every verb that changes a request locks its row (``select_for_update``) so that
concurrent approvals and duplicate pipeline calls stay consistent, judges once and
writes its audit events in the same transaction. Reads never write: ``current``
answers the judgement as of now on the loaded request without storing it. The
stored status changes only here: on an approval or rejection, on deployed or
failed, on asking again, and when what the fingerprint covers changes
(``rejudge_open``, called by the receivers in ``registry.receivers`` and
``risk.checks`` inside the writer's transaction), which records the lapse then.

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

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from accounts.permissions import may
from audit.services import record_decision, record_many
from config.statements import Statement
from lineage.queue import catch_up
from registry.choices import RequestKind, RequestOutcome, RequestStatus, Verdict
from registry.gate import checks as gate_checks
from registry.gate import decisions
from registry.gate.checks import GateContext
from registry.gate.exceptions import GateConflict, GateRefused, ProtectedEnvironment
from registry.models import Approval, DeploymentRequest
from registry.models.gate import OPEN_REQUEST
from registry.services import deploy, rollback_refusal, training_data_verdict

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
    context: GateContext | None = None


# --- judging: one context, every check, one status ----------------------------


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
    return _REQUEST.first(pk=request_id, now=timezone.now())


def _load_for_decision(request_id: int) -> DeploymentRequest:
    """The request locked and read in one statement, for an approval or rejection: a
    decision reads the request's own status and outcome (which the locking statement
    sees as last committed) and no joined row another writer may just have created
    (the deployment; see ``load``)."""
    deployment_request = _REQUEST_FOR_DECISION.first(pk=request_id, now=timezone.now())
    if deployment_request is None:
        raise DeploymentRequest.DoesNotExist(f"No deployment request #{request_id}.")
    return deployment_request


def _with_relations(queryset, now):
    """The request with what one judgement and its answer read: its relations, the
    facts the checks registered as of ``now`` (``gate_checks.with_facts``) and its
    approvals."""
    queryset = gate_checks.with_facts(queryset, "model_version", now=now)
    return queryset.select_related(
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


# Built and compiled once (``config.statements``): the ORM takes ~40 ms to build and
# compile the request with every registered fact, for SQL whose text never changes.
_REQUEST = Statement(
    lambda pk, now: _with_relations(DeploymentRequest.objects, now).filter(pk=pk),
    key=gate_checks.registered_facts,
    pk=int,
    now=datetime,
)
_REQUEST_FOR_DECISION = Statement(
    lambda pk, now: (
        _with_relations(DeploymentRequest.objects, now)
        .select_for_update(of=("self",))
        .filter(pk=pk)
    ),
    key=gate_checks.registered_facts,
    pk=int,
    now=datetime,
)


def _load(request_id: int, *, lock: bool = False) -> DeploymentRequest:
    deployment_request = load(request_id, lock=lock)
    if deployment_request is None:
        raise DeploymentRequest.DoesNotExist(f"No deployment request #{request_id}.")
    return deployment_request


def _approvals(deployment_request) -> list[Approval]:
    if deployment_request.pk is None:
        return []
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


@dataclass
class Lapses:
    """Which approvals stop counting at this judgement, and why."""

    to_lapse: dict[int, str] = field(default_factory=dict)  # approval id -> reason
    lapsing: list[str] = field(default_factory=list)  # fingerprint parts that lapse them
    counted: list = field(default_factory=list)  # approvals that still count
    reason: str = ""  # the latest lapse, while it explains missing approvals


def find_lapses(deployment_request, approvals, parts, fingerprint, right, now) -> Lapses:
    """Approvals that lapse now (what they covered changed, or they expired), those that
    still count, and the sentence that explains the missing ones."""
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
    return Lapses(
        to_lapse=to_lapse,
        lapsing=sorted(lapsing),
        counted=counted,
        reason=_latest_lapse_reason(approvals, to_lapse, counted, now),
    )


def _latest_lapse_reason(approvals, to_lapse, counted, now) -> str:
    """The latest lapse explains the approvals still missing, until someone approves
    again (a fingerprint change is named before an expiry of the same moment)."""
    lapses = [(a.lapsed_at, a.lapse_reason) for a in approvals if a.lapsed_at is not None]
    lapses += [(now, reason) for reason in to_lapse.values()]
    if not lapses:
        return ""
    latest_at = max(at for at, _ in lapses)
    newest_valid = max((a.created_at for a in counted), default=None)
    if newest_valid is not None and newest_valid >= latest_at:
        return ""
    latest = [reason for at, reason in lapses if at == latest_at]
    return next((r for r in latest if r.startswith(LAPSE_PREFIX)), latest[0])


def assess(deployment_request, now, approvals=None, deciders=()) -> tuple[GateContext, Lapses]:
    """The context every check of one judgement receives, and the lapses it found.
    Call inside ``gate_checks.evaluation()`` (``judge`` does) so that the checks and
    fingerprint parts reading the same lineage read it once. ``deciders``: users about
    to decide, whose separation-of-duties conflicts the context must know too."""
    version = deployment_request.model_version
    model = version.model
    environment = deployment_request.environment
    facts = gate_checks.take_facts(deployment_request)
    if facts is None:
        facts = gate_checks.take_facts(version)
    if facts is None:
        facts = gate_checks.facts_of(version, now)
    gate_checks.remember_facts(version, facts)
    parts = gate_checks.fingerprint_parts(version)
    fingerprint = gate_checks.fingerprint_of(parts)
    approvals = _approvals(deployment_request) if approvals is None else approvals
    right = decisions.rights_for(deployment_request.action, model, environment)
    conflicts, authors = {}, []
    if right is None or right.separation_of_duties:
        # The people who may decide are known (the approvers, the one deciding): their
        # conflicts are found by name, and the run's other authors named as they are.
        people = [a.approver for a in approvals] + list(deciders)
        authors = decisions.run_author_names(version.training_run)
        conflicts = decisions.conflicted_among(version, deployment_request.requested_by_id, people)
    lapses = find_lapses(deployment_request, approvals, parts, fingerprint, right, now)
    context = GateContext(
        kind=deployment_request.kind or RequestKind.DEPLOY,
        version=version,
        model=model,
        environment=environment,
        requested_by=deployment_request.requested_by
        if deployment_request.requested_by_id
        else None,
        now=now,
        right=right,
        requirements=decisions.requirements_for(right, model, environment),
        conflicts=conflicts,
        run_authors=tuple(authors),
        approvals=lapses.counted,
        lapse_reason=lapses.reason,
        training_data=training_data_verdict(version),
        fingerprint_parts=parts,
        fingerprint=fingerprint,
        facts=facts,
    )
    return context, lapses


def context_for(deployment_request, now=None) -> GateContext:
    """The context the checks would receive for ``deployment_request`` now."""
    with gate_checks.evaluation():
        return assess(deployment_request, now or timezone.now())[0]


def conclude(context: GateContext, results) -> tuple[str, list[str]]:
    """The status and reasons that the check results and the counted approvals give:
    a rejection or a failed final check denies, all passing approves, else pending."""
    rejections = [a for a in context.approvals if a.verdict == Verdict.REJECT]
    reasons = [r.reason for r in results if not r.passed]
    if rejections:
        rejected = [f"rejected by {a.approver.get_username()}: {a.comment}" for a in rejections]
        return RequestStatus.DENIED, rejected + reasons
    if any(not r.passed and r.final for r in results):
        return RequestStatus.DENIED, reasons
    if all(r.passed for r in results):
        return RequestStatus.APPROVED, reasons
    return RequestStatus.PENDING, reasons


def verdict_of(deployment_request, context: GateContext, lapses: Lapses) -> Judgement:
    """Run every registered check in ``context`` and conclude; writes nothing."""
    results = gate_checks.run_checks(deployment_request, context)
    status, reasons = conclude(context, results)
    required = []
    if context.right is not None:
        required = decisions.approval_counts(
            context.right,
            context.approvals,
            context.conflicts,
            context.now,
            requirements=context.requirements,
        )
    return Judgement(
        status=status,
        checks=[r.as_dict() for r in results],
        reasons=reasons,
        required=required,
        fingerprint=context.fingerprint,
        parts=context.fingerprint_parts,
        lapse_reason=lapses.reason,
        to_lapse=lapses.to_lapse,
        lapsing=lapses.lapsing,
        context=context,
    )


def judge(deployment_request, now=None, approvals=None) -> Judgement:
    """Run every registered check against the request as it stands; write nothing."""
    now = now or timezone.now()
    with gate_checks.evaluation():
        context, lapses = assess(deployment_request, now, approvals)
        return verdict_of(deployment_request, context, lapses)


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


def _record_evidence(deployment_request, judgement: Judgement, now) -> None:
    """Lapse the approvals the judgement found stale (``gate.lapse``), or, when what the
    version shows changed without lapsing any, say so (``gate.evidence``)."""
    changed = changed_parts(deployment_request.fingerprint_parts or {}, judgement.parts)
    if judgement.to_lapse:
        for reason in sorted(set(judgement.to_lapse.values())):
            ids = [pk for pk, why in judgement.to_lapse.items() if why == reason]
            Approval.objects.filter(pk__in=ids).update(lapsed_at=now, lapse_reason=reason)
        _show_lapses(deployment_request, judgement, now)
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


def _store(deployment_request, judgement: Judgement, now) -> None:
    """Save the judgement on a locked request; audit a change of status (or of the
    checks' answers) as one event."""
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


def _apply(deployment_request, judgement: Judgement, now) -> None:
    """Write a judgement to a locked request, with its audit events."""
    _record_evidence(deployment_request, judgement, now)
    _store(deployment_request, judgement, now)


def _evaluate_locked(deployment_request, now) -> Judgement | None:
    """Judge a locked request and write what changed; ``None`` when it is settled."""
    if is_settled(deployment_request):
        return None
    judgement = judge(deployment_request, now)
    if _differs(deployment_request, judgement):
        _apply(deployment_request, judgement, now)
    return judgement


def _show_lapses(deployment_request, judgement: Judgement, now) -> None:
    """Mark the lapsing approvals on the loaded request's approvals (in memory)."""
    for approval in _approvals(deployment_request):
        if approval.pk in judgement.to_lapse:
            approval.lapsed_at = now
            approval.lapse_reason = judgement.to_lapse[approval.pk]


def current(deployment_request, now=None) -> DeploymentRequest:
    """The request as the gate judges it now, for a read: the judgement is set on the
    loaded instance (status, checks, reasons, required approvals, fingerprint, the
    approvals that lapse now) and nothing is written. Settled requests are returned
    as stored."""
    if is_settled(deployment_request):
        return deployment_request
    now = now or timezone.now()
    judgement = judge(deployment_request, now)
    if not _differs(deployment_request, judgement):
        return deployment_request
    _show_lapses(deployment_request, judgement, now)
    if judgement.status != deployment_request.status:
        deployment_request.decided_at = (
            now if judgement.status != RequestStatus.PENDING else deployment_request.decided_at
        )
    deployment_request.status = judgement.status
    deployment_request.checks = judgement.checks
    deployment_request.reasons = judgement.reasons
    deployment_request.required = judgement.required
    deployment_request.fingerprint = judgement.fingerprint
    return deployment_request


def evaluate(deployment_request, now=None) -> DeploymentRequest:
    """Re-judge a request and store the outcome (a service, for writers and tasks:
    reads use ``current``); return it (reloaded) with its status.

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


def rejudge_open(*, model_version_ids=None, model_ids=None, now=None) -> list[int]:
    """Re-judge and store the open requests of these versions (or models) after what
    their fingerprint covers changed (lineage, card, evaluations, dataset status):
    lapses are recorded when the change happens, in the writer's transaction.
    Returns the ids of the requests judged."""
    now = now or timezone.now()
    scope = Q()
    if model_version_ids:
        scope |= Q(model_version_id__in=list(model_version_ids))
    if model_ids:
        scope |= Q(model_version__model_id__in=list(model_ids))
    if not scope:
        return []
    ids = list(
        DeploymentRequest.objects.filter(OPEN_REQUEST)
        .filter(scope)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    judged = []
    with transaction.atomic():
        for request_id in ids:
            deployment_request = load(request_id, lock=True)
            if deployment_request is None or not deployment_request.is_open:
                continue
            _evaluate_locked(deployment_request, now)
            judged.append(request_id)
    return judged


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
    catch_up()  # judged on every lineage event stored before the ask
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
    # The version, environment and user are loaded rows: no need to look them up again.
    deployment_request.full_clean(
        exclude=["model_version", "environment", "requested_by"], validate_constraints=False
    )
    # No savepoint of its own: an error here fails the caller's transaction (the
    # request's); only the insert, which may lose the open slot to another caller, has one.
    with transaction.atomic(savepoint=False):
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
        audits = [
            {
                "action": "gate.request",
                "obj": deployment_request,
                "after": {
                    "kind": kind,
                    "model": model_version.model.name,
                    "version": model_version.version,
                    "environment": environment.name,
                    "pipeline_run_url": deployment_request.pipeline_run_url,
                    "commit": deployment_request.commit,
                    "note": deployment_request.note,
                    "fingerprint": deployment_request.fingerprint,
                    "status": judgement.status,
                    "checks": judgement.checks,
                    "reasons": judgement.reasons,
                    "supersedes": superseded,
                },
            }
        ]
        if superseded:
            DeploymentRequest.objects.filter(pk__in=superseded).update(
                superseded_by=deployment_request,
                reasons=[
                    f"superseded by request #{deployment_request.pk}: "
                    f"{user.get_username()} asked for a new request"
                ],
                updated_at=now,
            )
            audits += [
                {
                    "action": "gate.superseded",
                    "object_type": DeploymentRequest._meta.label_lower,
                    "object_id": str(pk),
                    "after": {
                        "previous": "open",
                        "status": RequestStatus.SUPERSEDED,
                        "superseded_by": deployment_request.pk,
                        "asked_by": user.get_username(),
                    },
                }
                for pk in superseded
            ]
        record_many(audits)
    deployment_request._prefetched_objects_cache = {"approvals": Approval.objects.none()}
    return deployment_request


def _refuse_settled(deployment_request) -> None:
    """Nothing can be decided on a deployed, superseded or denied request."""
    if deployment_request.outcome == RequestOutcome.DEPLOYED:
        raise GateConflict("This request has been deployed already; nothing to decide.")
    if deployment_request.status == RequestStatus.SUPERSEDED:
        raise GateConflict(
            f"This request was superseded by request #{deployment_request.superseded_by_id}; "
            "decide on that one."
        )
    if deployment_request.status == RequestStatus.DENIED:
        raise GateConflict("This request is denied; the pipeline must ask again.")


def _refuse_decider(user, context: GateContext) -> None:
    """Separation of duties, and one valid decision per person."""
    if user.pk in context.conflicts:
        raise GateRefused(
            f"Separation of duties: you {context.conflicts[user.pk]}, so you may not decide on it."
        )
    if any(a.approver_id == user.pk for a in context.approvals):
        raise GateConflict("You have already decided on this request.")


def _denied_regardless(context: GateContext, judgement: Judgement) -> bool:
    """Denied whatever this decision says: an earlier rejection still counts, or a
    final check fails (the answer to approvals is never final)."""
    return any(a.verdict == Verdict.REJECT for a in context.approvals) or any(
        not check["passed"] and check["final"] for check in judgement.checks
    )


def _decide(request_id, user, verdict, comment, now) -> DeploymentRequest:
    """Load the locked request once, judge it once with the new decision counted, and
    write the decision, any lapse it found and the new answer."""
    now = now or timezone.now()
    comment = (comment or "").strip()
    catch_up()  # judged on every lineage event stored before the decision
    with transaction.atomic():
        deployment_request = _load_for_decision(request_id)
        allowed, reason = decisions.can_approve(
            user, deployment_request.action, deployment_request.model_version.model
        )
        if not allowed:
            raise GateRefused(reason)
        _refuse_settled(deployment_request)
        with gate_checks.evaluation():
            context, lapses = assess(deployment_request, now, deciders=[user])
            approval = Approval(
                request=deployment_request,
                approver=user,
                verdict=verdict,
                comment=comment,
                roles=decisions.roles_snapshot(user),
                fingerprint=context.fingerprint,
                fingerprint_parts=context.fingerprint_parts,
                created_at=now,
            )
            # The request and the approver are loaded rows: no need to look them up again.
            # ``Approval.clean`` holds the rules of a decision (a rejection says why).
            approval.full_clean(exclude=["request", "approver"], validate_constraints=False)
            with_decision = dataclasses.replace(context, approvals=[*context.approvals, approval])
            judgement = verdict_of(deployment_request, with_decision, lapses)
        if _denied_regardless(context, judgement):
            raise GateConflict("This request is denied; the pipeline must ask again.")
        _refuse_decider(user, context)
        # Lapses first: the decider's own approval may be one that lapses now.
        _record_evidence(deployment_request, judgement, now)
        try:
            approval.save()
        except IntegrityError:
            # A duplicate decision that slipped past the lock (SQLite); raising at once
            # rolls the act back, so no savepoint is needed to go on.
            raise GateConflict("You have already decided on this request.")
        record_decision(
            "gate.approve" if verdict == Verdict.APPROVE else "gate.reject",
            deployment_request,
            approver=user.get_username(),
            comment=comment,
            roles=approval.roles,
            fingerprint=approval.fingerprint,
        )
        _store(deployment_request, judgement, now)
    _remember(deployment_request, approval)
    return deployment_request


def _remember(deployment_request, approval) -> None:
    """Add a just-saved approval to the request's prefetched approvals, so the answer
    shows it without reading them again."""
    approvals = deployment_request._prefetched_objects_cache.get("approvals")
    if approvals is not None:
        approvals._result_cache.append(approval)


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
