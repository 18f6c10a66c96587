"""Post-incident reviews, drills and their action items. Completing an action item
applies what it names through the risk app: a threshold is recalibrated with
``risk.services.recalibrate_threshold`` (its recalibration record), a risk's
residual scores are re-rated through the risk model's own validation; both are
audited."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import record_decision
from playbooks.choices import ActionItemStatus, DrillStatus, ReviewStatus, TimelineKind
from playbooks.models import ActionItem, Drill, PostIncidentReview
from playbooks.services.common import IncidentConflict, add_entry
from playbooks.services.playbooks import latest_version
from risk import services as risk_services
from risk.models import Risk

OPEN_ITEM_STATUSES = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)


def save_review(review: PostIncidentReview) -> PostIncidentReview:
    with transaction.atomic():
        if review.pk and review.status == ReviewStatus.COMPLETED:
            raise IncidentConflict("A completed review is final.", field="status")
        review.full_clean()
        review.save()
        return review


def complete_review(review: PostIncidentReview, user, *, now=None) -> PostIncidentReview:
    """A review is complete when it says what happened, why, how it was resolved and
    what was learned; then a critical incident may close."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = PostIncidentReview.objects.select_for_update().get(pk=review.pk)
        if locked.status == ReviewStatus.COMPLETED:
            raise IncidentConflict("The review is already complete.", field="status")
        missing = locked.missing_for_completion()
        if missing:
            raise ValidationError(
                {name: "Fill this in before completing the review." for name in missing}
            )
        locked.status = ReviewStatus.COMPLETED
        locked.completed_at = now
        locked.completed_by = user
        locked.save(update_fields=["status", "completed_at", "completed_by", "updated_at"])
        add_entry(
            locked.incident,
            TimelineKind.STATUS,
            "Post-incident review completed.",
            user=user,
            at=now,
        )
        record_decision(
            "review.complete",
            locked,
            incident=locked.incident_id,
            action_items=list(locked.action_items.values_list("pk", flat=True)),
        )
        return locked


def save_action_item(item: ActionItem) -> ActionItem:
    with transaction.atomic():
        if item.pk and item.status not in OPEN_ITEM_STATUSES:
            raise IncidentConflict("A closed action item cannot change.", field="status")
        item.full_clean()
        item.save()
        return item


def _apply_threshold(item: ActionItem, user) -> dict:
    threshold = item.threshold
    before = {"warning": threshold.warning_value, "critical": threshold.critical_value}
    risk_services.recalibrate_threshold(
        threshold,
        warning=item.new_warning_value,
        critical=item.new_critical_value,
        user=user,
        reason=f"Action item #{item.pk}: {item.title}",
        source=item,
    )
    return {
        "threshold": threshold.pk,
        "before": before,
        "after": {"warning": item.new_warning_value, "critical": item.new_critical_value},
    }


def _apply_risk(item: ActionItem, user) -> dict:
    risk = Risk.objects.select_for_update().get(pk=item.risk_id)
    before = {"likelihood": risk.residual_likelihood, "impact": risk.residual_impact}
    if item.new_residual_likelihood is not None:
        risk.residual_likelihood = item.new_residual_likelihood
    if item.new_residual_impact is not None:
        risk.residual_impact = item.new_residual_impact
    risk.full_clean()
    risk.save()  # tracked by the risk app: an audited update with before/after
    after = {"likelihood": risk.residual_likelihood, "impact": risk.residual_impact}
    record_decision(
        "risk.residual_update",
        risk,
        before=before,
        after=after,
        residual_level=risk.residual_level,
        reason=f"Action item #{item.pk}: {item.title}",
    )
    return {
        "risk": risk.pk,
        "before": before,
        "after": after,
        "residual_level": risk.residual_level,
    }


def complete_action_item(item: ActionItem, user, *, note: str = "", evaluation=None, now=None):
    """Mark done and apply what the item names (threshold, risk, evaluation link)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = ActionItem.objects.select_for_update().get(pk=item.pk)
        if locked.status not in OPEN_ITEM_STATUSES:
            raise IncidentConflict(f"The action item is already {locked.status}.", field="status")
        outcome: dict = {"note": note}
        if locked.threshold_id:
            outcome["threshold"] = _apply_threshold(locked, user)
        if locked.risk_id:
            outcome["risk"] = _apply_risk(locked, user)
        if evaluation is not None:
            locked.evaluation = evaluation
            outcome["evaluation"] = evaluation.pk
        elif locked.evaluation_to_add and locked.evaluation_id is None:
            raise ValidationError(
                {"evaluation": "Link the evaluation that was added before closing this item."}
            )
        locked.status = ActionItemStatus.DONE
        locked.closed_at = now
        locked.closed_by = user
        locked.outcome = outcome
        locked.save(update_fields=["status", "closed_at", "closed_by", "outcome", "evaluation"])
        record_decision("action_item.complete", locked, **outcome)
        return locked


def cancel_action_item(item: ActionItem, user, *, reason: str, now=None) -> ActionItem:
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the action item is cancelled."})
    with transaction.atomic():
        changed = ActionItem.objects.filter(pk=item.pk, status__in=OPEN_ITEM_STATUSES).update(
            status=ActionItemStatus.CANCELLED,
            closed_at=now or timezone.now(),
            closed_by=user,
            outcome={"cancelled": reason},
        )
        if changed != 1:
            raise IncidentConflict("The action item is already closed.", field="status")
        item.refresh_from_db()
        record_decision("action_item.cancel", item, reason=reason)
        return item


def save_drill(drill: Drill, *, participants=None) -> Drill:
    """Create or edit a drill; a new one rehearses the playbook's latest version."""
    with transaction.atomic():
        if drill.playbook_version_id is None and drill.playbook_id:
            drill.playbook_version = latest_version(drill.playbook)
        drill.full_clean()
        drill.save()
        if participants is not None:
            drill.participants.set(participants)
        return drill


def complete_drill(drill: Drill, user, *, what_went_wrong: str = "", gaps=(), now=None):
    """Close a drill; each gap ({title, owner, due_date, ...}) becomes an action item."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Drill.objects.select_for_update().get(pk=drill.pk)
        if locked.status in (DrillStatus.COMPLETED, DrillStatus.CANCELLED):
            raise IncidentConflict(f"The drill is already {locked.status}.", field="status")
        locked.status = DrillStatus.COMPLETED
        locked.completed_at = locked.completed_at or now
        if what_went_wrong:
            locked.what_went_wrong = what_went_wrong
        locked.full_clean()
        locked.save()
        items = [save_action_item(ActionItem(drill=locked, **gap)) for gap in gaps]
        record_decision(
            "drill.complete",
            locked,
            seconds_to_acknowledge=locked.seconds_to_acknowledge,
            seconds_to_contain=locked.seconds_to_contain,
            action_items=[i.pk for i in items],
        )
        return locked
