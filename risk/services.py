"""Risk-register verbs: each changes state under a lock and writes the audit trail
in the same transaction (creates and edits through ``audit.tracking``; decisions
through ``audit.services.record_decision``)."""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import notify
from accounts.permissions import grant_team_access, may
from accounts.roles import Role, has_role
from audit.services import record_decision
from registry.choices import DecisionAction, Verdict
from registry.gate.decisions import can_approve, rights_for, roles_snapshot, tally
from registry.models import DecisionRight, MLModel
from risk.choices import AcceptanceStatus, ReminderKind, RiskStatus, Treatment
from risk.models import (
    Reminder,
    Risk,
    RiskAcceptance,
    RiskAcceptanceApproval,
    Threshold,
    ThresholdRecalibration,
)
from risk.models.register import SCORE_FIELDS

log = logging.getLogger(__name__)

RISK_LINKS = ("ml_models", "model_versions", "dataset_versions", "features", "deployments")


# --- risks -------------------------------------------------------------------


def create_risk(*, links: dict | None = None, **fields) -> Risk:
    """Register a risk and give its owning team view, change and delete rights on it."""
    with transaction.atomic():
        risk = Risk(**fields)
        risk.full_clean()
        risk.save()
        for name, values in (links or {}).items():
            getattr(risk, name).set(values)
        grant_team_access(risk, risk.team)
    return risk


def record_review(risk: Risk, user, *, notes: str = "", now: datetime | None = None) -> Risk:
    """The owner (or the team) looked at the risk again: the next review moves one cadence on."""
    now = now or timezone.now()
    with transaction.atomic():
        risk = Risk.objects.select_for_update().get(pk=risk.pk)
        if risk.status == RiskStatus.CLOSED:
            raise ValidationError({"status": "A closed risk is not reviewed; reopen it first."})
        previous = risk.next_review_date
        risk.last_reviewed_at = now
        risk.next_review_date = timezone.localdate(now) + timedelta(days=risk.review_cadence_days)
        risk.save(update_fields=["last_reviewed_at", "next_review_date", "updated_at"])
        record_decision(
            "risk.review",
            risk,
            reviewer=user.get_username(),
            notes=notes,
            previous_review_date=previous,
            next_review_date=risk.next_review_date,
        )
    return risk


def raise_risk_scores(
    risk: Risk, user, *, likelihood: int, impact: int, reason: str, source=None
) -> Risk:
    """New evidence (a red-team finding...) says a risk is likelier or worse than the
    register holds: its residual scores rise to at least ``likelihood`` and ``impact``
    (a score is never lowered here), and the inherent ones with them where they would
    fall below. The old and new scores, who, why and what prompted it are one audit
    decision beside the tracked change, so the risk's history shows the raise."""
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the risk's scores rise."})
    with transaction.atomic():
        risk = Risk.objects.select_for_update().select_related("matrix").get(pk=risk.pk)
        problems = risk.matrix.check_scores(likelihood, impact)
        if problems:
            raise ValidationError({f"residual_{axis}": text for axis, text in problems.items()})
        old = {name: getattr(risk, name) for name in (*SCORE_FIELDS, "residual_level")}
        risk.residual_likelihood = max(risk.residual_likelihood, likelihood)
        risk.residual_impact = max(risk.residual_impact, impact)
        risk.inherent_likelihood = max(risk.inherent_likelihood, risk.residual_likelihood)
        risk.inherent_impact = max(risk.inherent_impact, risk.residual_impact)
        new = {name: getattr(risk, name) for name in SCORE_FIELDS}
        if new == {name: old[name] for name in SCORE_FIELDS}:
            return risk
        risk.save(update_fields=[*SCORE_FIELDS, "updated_at"])
        record_decision(
            "risk.raise",
            risk,
            by=user.get_username() if user is not None else "",
            old=old,
            new={**new, "residual_level": risk.residual_level},
            reason=reason,
            source=_source_fields(source) or None,
        )
    return risk


def _reopen(risk: Risk, reason: str) -> None:
    """An acceptance ended: the risk is untreated again until its owner decides."""
    risk.treatment = Treatment.OPEN
    risk.status = RiskStatus.OPEN
    risk.save(update_fields=["treatment", "status", "updated_at"])
    record_decision("risk.reopen", risk, reason=reason)


# --- acceptances -------------------------------------------------------------


def governing_models(risk: Risk) -> list[MLModel]:
    """The models a risk concerns: linked directly, or through a version or a deployment."""
    return list(
        MLModel.objects.filter(
            Q(risks=risk) | Q(versions__risks=risk) | Q(deployments__risks=risk)
        ).distinct()
    )


def _global_accept_right():
    return DecisionRight.objects.filter(
        action=DecisionAction.ACCEPT_RISK, model__isnull=True, risk_tier=""
    ).first()


def acceptance_rights(risk: Risk) -> list[tuple[MLModel | None, DecisionRight | None]]:
    """The accept-risk decision right for each model the risk concerns (one for the
    risk itself, any-model scope, when it concerns no model)."""
    models = governing_models(risk)
    if not models:
        return [(None, _global_accept_right())]
    return [(model, rights_for(DecisionAction.ACCEPT_RISK, model)) for model in models]


def can_decide_acceptance(user, risk: Risk) -> tuple[bool, str]:
    """Approver role plus the approve right on every model the risk concerns
    (for a risk on no model: membership of the owning team, or admin)."""
    models = governing_models(risk)
    if not models:
        if not has_role(user, Role.APPROVER):
            return False, "You need the approver role to accept a risk."
        if not (has_role(user, Role.ADMIN) or may(user, "change", risk)):
            return False, "Only approvers of the owning team may accept this risk."
        return True, "You may accept this risk."
    for model in models:
        allowed, reason = can_approve(user, DecisionAction.ACCEPT_RISK, model)
        if not allowed:
            return False, reason
    return True, "You may accept this risk."


def request_acceptance(
    risk: Risk, user, *, justification: str, expires_at: datetime
) -> RiskAcceptance:
    """Ask to live with a risk above its appetite until ``expires_at``."""
    with transaction.atomic():
        Risk.objects.select_for_update().filter(pk=risk.pk).first()
        acceptance = RiskAcceptance(
            risk=risk, justification=justification, expires_at=expires_at, requested_by=user
        )
        acceptance.full_clean()
        acceptance.save()
    return acceptance


def _conflicts(acceptance: RiskAcceptance) -> dict[int, str]:
    return {
        acceptance.risk.owner_id: "owns the risk",
        acceptance.requested_by_id: "requested this acceptance",
    }


@dataclass(frozen=True)
class AcceptanceTally:
    complete: bool
    missing: list[str]
    forbidden: bool = False


def acceptance_tally(acceptance: RiskAcceptance, now: datetime | None = None) -> AcceptanceTally:
    """Whether the approvals on an acceptance satisfy every governing decision right."""
    now = now or timezone.now()
    approvals = list(acceptance.approvals.all())
    missing: list[str] = []
    for model, right in acceptance_rights(acceptance.risk):
        scope = f"model {model.name}" if model else "this risk"
        if right is None:
            missing.append(f"no accept-risk decision right covers {scope}; an admin must add one")
            continue
        if right.forbidden:
            return AcceptanceTally(False, [f"accepting risks is forbidden for {scope}"], True)
        excluded = _conflicts(acceptance) if right.separation_of_duties else {}
        complete, lacking = tally(right, approvals, excluded, now)
        missing.extend(f"{item} for {scope}" for item in lacking)
    return AcceptanceTally(not missing, missing)


def decide_acceptance(
    acceptance: RiskAcceptance, user, *, verdict: str, comment: str = "", now=None
) -> RiskAcceptance:
    """An approver approves or rejects a requested acceptance.

    A rejection ends the request; approvals accumulate until the accept-risk
    decision right is satisfied, then the acceptance takes effect and the risk's
    treatment becomes "accept".
    """
    now = now or timezone.now()
    with transaction.atomic():
        acceptance = (
            RiskAcceptance.objects.select_for_update()
            .select_related("risk", "risk__owner")
            .get(pk=acceptance.pk)
        )
        if acceptance.status != AcceptanceStatus.REQUESTED:
            raise ValidationError(
                {"status": f"This acceptance is {acceptance.status}; only a request is decided."}
            )
        allowed, reason = can_decide_acceptance(user, acceptance.risk)
        if not allowed:
            raise PermissionDenied(reason)
        conflicts = _conflicts(acceptance)
        if user.pk in conflicts:
            raise PermissionDenied(
                f"Separation of duties: you {conflicts[user.pk]}, so you may not decide on it."
            )
        approval = RiskAcceptanceApproval(
            acceptance=acceptance,
            approver=user,
            approver_username=user.get_username(),
            roles=roles_snapshot(user),
            verdict=verdict,
            comment=comment,
            created_at=now,
        )
        approval.full_clean()
        approval.save()
        if verdict == Verdict.REJECT:
            _close_acceptance(acceptance, AcceptanceStatus.REJECTED, user, comment, now)
            record_decision(
                "risk.acceptance.reject", acceptance, by=user.get_username(), comment=comment
            )
            return acceptance
        result = acceptance_tally(acceptance, now)
        record_decision(
            "risk.acceptance.approve",
            acceptance,
            by=user.get_username(),
            comment=comment,
            complete=result.complete,
            missing=result.missing,
        )
        if result.complete:
            _close_acceptance(acceptance, AcceptanceStatus.ACCEPTED, user, comment, now)
            risk = Risk.objects.select_for_update().get(pk=acceptance.risk_id)
            risk.treatment = Treatment.ACCEPT
            risk.status = RiskStatus.ACCEPTED
            risk.save(update_fields=["treatment", "status", "updated_at"])
            record_decision(
                "risk.accept", risk, acceptance=acceptance.pk, expires_at=acceptance.expires_at
            )
    return acceptance


def _close_acceptance(acceptance, status, user, reason, now) -> None:
    acceptance.status = status
    acceptance.decided_by = user
    acceptance.decided_at = now
    acceptance.decision_reason = reason
    acceptance.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])


def revoke_acceptance(acceptance: RiskAcceptance, user, *, reason: str, now=None):
    """Withdraw a valid acceptance early (or a pending request): the risk is open again."""
    now = now or timezone.now()
    if not reason.strip():
        raise ValidationError({"reason": "Say why the acceptance is revoked."})
    with transaction.atomic():
        acceptance = RiskAcceptance.objects.select_for_update().get(pk=acceptance.pk)
        if acceptance.status not in (AcceptanceStatus.REQUESTED, AcceptanceStatus.ACCEPTED):
            raise ValidationError({"status": f"This acceptance is already {acceptance.status}."})
        was_accepted = acceptance.status == AcceptanceStatus.ACCEPTED
        _close_acceptance(acceptance, AcceptanceStatus.REVOKED, user, reason, now)
        record_decision("risk.acceptance.revoke", acceptance, by=user.get_username(), reason=reason)
        if was_accepted:
            _reopen(Risk.objects.select_for_update().get(pk=acceptance.risk_id), reason)
    return acceptance


def expire_acceptances(now: datetime | None = None) -> list[int]:
    """Accepted acceptances past their expiry become expired and their risks reopen.

    The conditional UPDATE changes each row once, so two workers never both
    reopen a risk; returns the ids this call expired.
    """
    now = now or timezone.now()
    expired = []
    to_send = []  # claimed in each expiry's transaction, mailed after it commits
    candidates = RiskAcceptance.objects.filter(
        status=AcceptanceStatus.ACCEPTED, expires_at__lte=now
    ).values_list("pk", flat=True)
    for pk in list(candidates):
        with transaction.atomic():
            changed = RiskAcceptance.objects.filter(
                pk=pk, status=AcceptanceStatus.ACCEPTED, expires_at__lte=now
            ).update(status=AcceptanceStatus.EXPIRED)
            if changed != 1:
                continue
            acceptance = RiskAcceptance.objects.select_related("risk").get(pk=pk)
            record_decision("risk.acceptance.expire", acceptance, expired_at=acceptance.expires_at)
            risk = Risk.objects.select_for_update().get(pk=acceptance.risk_id)
            _reopen(risk, f"acceptance #{pk} expired on {acceptance.expires_at:%Y-%m-%d}")
            expired.append(pk)
            reminder = _claim_reminder(
                risk,
                ReminderKind.ACCEPTANCE_EXPIRED,
                timezone.localdate(acceptance.expires_at),
                acceptance=acceptance,
                now=now,
            )
        if reminder is not None:
            to_send.append((risk, reminder))
    for risk, reminder in to_send:
        _send_reminder(risk, reminder)
    return expired


# --- thresholds --------------------------------------------------------------


def _source_fields(source) -> dict:
    if source is None:
        return {}
    if hasattr(source, "_meta") and getattr(source, "pk", None) is not None:
        return {
            "source_type": source._meta.label_lower,
            "source_id": str(source.pk),
            "source_label": str(source)[:300],
        }
    return {"source_label": str(source)[:300]}


def recalibrate_threshold(
    threshold: Threshold, *, warning, critical, user, reason: str, source=None
) -> Threshold:
    """Move a threshold's warning and critical values, keeping the old ones, who and why.

    ``source`` is what prompted the change (a post-incident action item, a drill...):
    a model instance is stored by type and id, anything else by its text.
    """
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the threshold changes."})
    with transaction.atomic():
        threshold = Threshold.objects.select_for_update().get(pk=threshold.pk)
        old_warning, old_critical = threshold.warning_value, threshold.critical_value
        threshold.warning_value = warning
        threshold.critical_value = critical
        threshold.full_clean()
        threshold.save(update_fields=["warning_value", "critical_value", "updated_at"])
        recalibration = ThresholdRecalibration.objects.create(
            threshold=threshold,
            old_warning_value=old_warning,
            old_critical_value=old_critical,
            new_warning_value=threshold.warning_value,
            new_critical_value=threshold.critical_value,
            reason=reason,
            changed_by=user,
            changed_by_username=user.get_username() if user is not None else "",
            **_source_fields(source),
        )
        record_decision(
            "risk.threshold.recalibrate",
            threshold,
            metric=threshold.metric,
            old={"warning": old_warning, "critical": old_critical},
            new={"warning": threshold.warning_value, "critical": threshold.critical_value},
            reason=reason,
            recalibration=recalibration.pk,
            source=_source_fields(source) or None,
        )
    return threshold


# --- reminders ---------------------------------------------------------------


def _claim_reminder(risk: Risk, kind: str, due: date, *, acceptance=None, now=None):
    """The reminder row for (risk, kind, due date), claimed for sending by this caller,
    or None when it was sent already (or another worker has it). The unique row is the
    idempotency key (``accounts.notify``): a second run finds it and sends nothing."""
    now = now or timezone.now()
    owner = risk.owner
    reminder, _ = Reminder.objects.get_or_create(
        risk=risk,
        kind=kind,
        due_date=due,
        defaults={
            "acceptance": acceptance,
            "recipient": owner,
            "recipient_email": owner.email or "",
            "created_at": now,
        },
    )
    if reminder.sent_at is not None:
        return None
    if not notify.claim(Reminder.objects.filter(pk=reminder.pk, sent_at__isnull=True), sent_at=now):
        return None
    return reminder


def _send_reminder(risk: Risk, reminder: Reminder) -> bool:
    """Mail the owner a claimed reminder, after the claim committed; True when the
    reminder counts as sent. A mail server failure releases the claim, so the next
    run tries again."""
    if not risk.owner.email:
        log.warning("risk %s: owner %s has no e-mail address", risk.pk, risk.owner)
        return True
    mail = notify.compose(
        "risk/mail/reminder",
        {
            "kind": reminder.kind,
            "risk": risk,
            "quoted_title": repr(risk.title),
            "due": reminder.due_date.isoformat(),
            "admin_url": notify.link("admin:risk_risk_change", args=[risk.pk]),
            "api_url": notify.link("risk-detail", args=[risk.pk]),
        },
        [risk.owner.email],
    )
    return notify.deliver(
        mail, release=lambda: Reminder.objects.filter(pk=reminder.pk).update(sent_at=None)
    )


def _remind(risk: Risk, kind: str, due: date, *, acceptance=None, now=None) -> bool:
    """Claim the reminder in its own short transaction, then send it: True when sent."""
    with transaction.atomic():
        reminder = _claim_reminder(risk, kind, due, acceptance=acceptance, now=now)
    return reminder is not None and _send_reminder(risk, reminder)


def send_review_reminders(today: date | None = None) -> dict:
    """Tell owners of reviews coming due (within the notice period) and overdue."""
    today = today or timezone.localdate()
    sent = {ReminderKind.REVIEW_DUE: 0, ReminderKind.REVIEW_OVERDUE: 0}
    risks = Risk.objects.select_related("owner", "team")
    for state, kind in (("due", ReminderKind.REVIEW_DUE), ("overdue", ReminderKind.REVIEW_OVERDUE)):
        for risk in risks.review_state(state, today):
            sent[kind] += _remind(risk, kind, risk.next_review_date)
    return {str(kind): count for kind, count in sent.items()}


def send_acceptance_reminders(now: datetime | None = None) -> int:
    """Tell owners whose accepted risks will lapse within the notice period."""
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.GOVREG_RISK_ACCEPTANCE_NOTICE_DAYS)
    expiring = RiskAcceptance.objects.filter(
        status=AcceptanceStatus.ACCEPTED, expires_at__gt=now, expires_at__lte=horizon
    ).select_related("risk", "risk__owner", "risk__team")
    sent = 0
    for acceptance in expiring:
        sent += _remind(
            acceptance.risk,
            ReminderKind.ACCEPTANCE_EXPIRING,
            timezone.localdate(acceptance.expires_at),
            acceptance=acceptance,
            now=now,
        )
    return sent
