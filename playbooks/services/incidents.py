"""The incident's life: open, acknowledge, contain, resolve, close; steps, comments
and the regulatory clock. Every change locks the incident row, checks the
transition, writes the timeline and the audit trail in one transaction."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.services import record_decision
from lineage.services import insert_returning, pg_insert_statement, pg_pipeline
from playbooks.choices import (
    INCIDENT_TRANSITIONS,
    IncidentStatus,
    ReviewStatus,
    Severity,
    TimelineKind,
)
from playbooks.models import Incident, PostIncidentReview, StepCompletion
from playbooks.services.common import IncidentConflict, NotAllowed, Trail, actor_name, add_entry
from playbooks.services.escalation import notify_first_level
from playbooks.services.rollback import request_rollback
from playbooks.services.signal_links import link_signals
from playbooks.services.timeline import Lines
from registry.choices import DecisionAction
from registry.gate import decisions


class AlreadyOpen(IntegrityError):
    """An active incident already holds the dedup key (a concurrent triage opened it):
    nothing was written and the caller's transaction is intact."""


def open_incident(
    *,
    model,
    title: str,
    severity: str = Severity.CRITICAL,
    user=None,
    playbook_version=None,
    description: str = "",
    environment_name: str = "",
    dedup_key: str = "",
    signal=None,
    links: dict | None = None,
    now=None,
    trail: Trail | None = None,
) -> Incident:
    """Open an incident, start its playbook and notify the first escalation level.

    The rows go in with one INSERT each (the incident, each link table, the level-1
    row, the opening timeline lines); their audit events are those ``audit.tracking``
    writes for a save, appended to ``trail`` (the caller's act) or, without one, together
    at the end. The incident's INSERT skips a row whose dedup key an active incident
    holds (``ON CONFLICT DO NOTHING``), so a concurrent opening raises ``AlreadyOpen``
    without breaking the caller's transaction (no savepoint needed to go on)."""
    now = now or timezone.now()
    links = links or {}
    escalates = playbook_version is not None and bool(playbook_version.escalation_chain)
    own = trail is None
    trail = Trail() if own else trail
    # No savepoint of its own: opening is all or nothing with the caller's transaction.
    with transaction.atomic(savepoint=False):
        incident = _insert_incident(
            title=title[:300],
            description=description,
            severity=severity,
            model=model,
            environment_name=environment_name,
            playbook_version=playbook_version,
            dedup_key=dedup_key[:255],
            opened_at=now,
            opened_by=user if getattr(user, "is_authenticated", False) else None,
            # A new incident starts at level 1 of its chain (nobody else sees it yet).
            escalation_level=1 if escalates else 0,
            level_started_at=now if escalates else None,
            **{k: v for k, v in links.items() if k in LINK_FIELDS},
        )
        if incident is not None:
            _start(incident, links, severity, user, playbook_version, signal, escalates, now, trail)
            if own:
                trail.write()
    if incident is None:
        raise AlreadyOpen("An active incident already exists for this alert.")
    return incident


def _insert_incident(**values) -> Incident | None:
    """Validate and insert the new incident; None when an active one holds its key."""
    incident = Incident(**values)
    # Related records the caller holds as saved instances need no existence query.
    held = [
        name
        for name in ("model", "playbook_version", *LINK_FIELDS)
        if getattr(getattr(incident, name, None), "pk", None) is not None
    ]
    incident.full_clean(exclude=["dedup_key", *held], validate_constraints=False)
    if not insert_returning([incident]):
        return None
    return incident


def _start(incident, links, severity, user, playbook_version, signal, escalates, now, trail):
    """The new incident's links, opening lines and first escalation level: their rows
    go in together (``_insert_together``), their audit events in the order a save of
    each would write them."""
    trail.created(incident)
    linked = []  # (field name, related rows, through rows)
    for name in LINK_M2M:
        related = list(links.get(name) or [])
        if related:  # a new incident links nothing yet
            field = Incident._meta.get_field(name)
            own_end, other_end = field.m2m_field_name(), field.m2m_reverse_field_name()
            through = field.remote_field.through
            rows = [through(**{own_end: incident, other_end: row}) for row in related]
            linked.append((name, related, rows))
    lines = Lines()  # the opening lines, written together
    lines.add(
        incident,
        TimelineKind.STATUS,
        f"Incident opened ({severity}).",
        user=user,
        at=now,
        data={"status": IncidentStatus.OPEN},
    )
    if playbook_version is not None:
        lines.add(
            incident,
            TimelineKind.STEP,
            f"Playbook {playbook_version} started ({len(playbook_version.steps)} steps).",
            user=user,
            at=now,
            data={"playbook_version": playbook_version.pk},
        )
    if signal is not None:
        link_signals(incident, [signal], at=now, add=lines.add)
    levels: list = []
    if escalates:
        notify_first_level(incident, now=now, add=lines.add, trail=trail, defer=levels)
    _insert_together([rows for _, _, rows in linked] + [levels, lines.entries])
    for name, related, _ in linked:
        trail.linked(incident, name, related)
    for escalation in levels:
        trail.created(escalation)
    lines.record(incident, lines.entries, trail)


def _insert_together(groups: list[list]) -> None:
    """Insert each group of new rows (one model per group) and set their ids: on
    PostgreSQL every group's INSERT in one round trip (a pipeline), elsewhere one
    ``bulk_create`` per group."""
    groups = [rows for rows in groups if rows]
    if connection.vendor != "postgresql":
        for rows in groups:
            type(rows[0]).objects.bulk_create(rows)
        return
    statements = [(*pg_insert_statement(rows), True) for rows in groups]
    for rows, returned in zip(groups, pg_pipeline(statements), strict=True):
        if len(returned) != len(rows):  # new rows of a new incident conflict with nothing
            raise IntegrityError(f"{type(rows[0]).__name__}: a new row was not inserted")
        for row, (pk,) in zip(rows, returned, strict=True):
            row.pk = pk
            row._state.adding = False


# Filled in by the linking module once the related apps exist (FK and M2M names).
LINK_FIELDS: set[str] = {"model_version", "deployment"}
LINK_M2M: tuple[str, ...] = ("dataset_versions", "risks")


def _lock(incident) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _move(incident, to: str, user, *, now=None, note: str = "", data=None) -> Incident:
    now = now or timezone.now()
    locked = _lock(incident)
    if to not in INCIDENT_TRANSITIONS[locked.status]:
        raise IncidentConflict(
            f"An incident that is {locked.status} cannot become {to}.", field="status"
        )
    previous = locked.status
    locked.status = to
    fields = ["status"]
    by = user if getattr(user, "is_authenticated", False) else None
    stamps = {
        IncidentStatus.ACKNOWLEDGED: ("acknowledged_at", "acknowledged_by"),
        IncidentStatus.CONTAINED: ("contained_at", "contained_by"),
        IncidentStatus.RESOLVED: ("resolved_at", "resolved_by"),
        IncidentStatus.CLOSED: ("closed_at", "closed_by"),
    }
    if to == IncidentStatus.CONTAINED and locked.acknowledged_at is None:
        # Containing an incident nobody acknowledged also acknowledges it.
        locked.acknowledged_at, locked.acknowledged_by = now, by
        fields += ["acknowledged_at", "acknowledged_by"]
    at_name, by_name = stamps[to]
    setattr(locked, at_name, now)
    setattr(locked, by_name, by)
    fields += [at_name, by_name]
    locked.save(update_fields=fields)
    message = f"Status {previous} -> {to}." + (f" {note}" if note else "")
    add_entry(
        locked,
        TimelineKind.STATUS,
        message,
        user=user,
        at=now,
        data={"from": previous, "to": to, **(data or {})},
    )
    return locked


def acknowledge(incident, user, *, note: str = "", now=None) -> Incident:
    """Someone has it: escalation stops."""
    with transaction.atomic():
        return _move(incident, IncidentStatus.ACKNOWLEDGED, user, now=now, note=note)


def contain(incident, user, *, note: str = "", rollback: bool = False, now=None) -> Incident:
    """The harm is stopped; the gate lets deployments of the model through again.
    With ``rollback``, asks the gate to put the previous live version back."""
    with transaction.atomic():
        locked = _move(incident, IncidentStatus.CONTAINED, user, now=now, note=note)
        if rollback:
            request_rollback(locked, user, now=now)
        record_decision(
            "incident.contain", locked, note=note, rollback=rollback, severity=locked.severity
        )
        return locked


def resolve(incident, user, *, note: str = "", now=None) -> Incident:
    with transaction.atomic():
        return _move(incident, IncidentStatus.RESOLVED, user, now=now, note=note)


def close_right_refusal(incident, user) -> str | None:
    """Why ``user`` may not close ``incident`` under a ``close-incident`` decision right,
    or None. Without such a right for the model, the team's change right suffices;
    with one, the closer needs the approver role and the approve right on the model."""
    right = decisions.rights_for(DecisionAction.CLOSE_INCIDENT, incident.model)
    if right is None:
        return None
    if right.forbidden:
        return f"Decision right {right}: incidents of {incident.model.name} are not closed here."
    allowed, reason = decisions.can_approve(user, DecisionAction.CLOSE_INCIDENT, incident.model)
    return None if allowed else reason


def close(incident, user, *, note: str = "", now=None) -> Incident:
    """Close for good. A serious incident needs its report recorded as sent or a
    not-reportable determination; a critical incident needs its post-incident review
    completed; a close-incident decision right, where an admin wrote one, names who
    may close."""
    with transaction.atomic():
        locked = _lock(incident)
        refusal = close_right_refusal(locked, user)
        if refusal:
            raise NotAllowed(refusal, field="user")
        if (
            locked.serious_category
            and locked.reported_at is None
            and locked.not_reportable_at is None
        ):
            raise IncidentConflict(
                "A serious incident cannot close before its report is recorded as sent "
                "(POST .../report) or it is determined not reportable "
                "(POST .../not-reportable).",
                field="reported_at",
            )
        if locked.severity == Severity.CRITICAL and not (
            PostIncidentReview.objects.filter(
                incident=locked, status=ReviewStatus.COMPLETED
            ).exists()
        ):
            raise IncidentConflict(
                "A critical incident cannot close without a completed post-incident review.",
                field="review",
            )
        closed = _move(locked, IncidentStatus.CLOSED, user, now=now, note=note)
        record_decision("incident.close", closed, note=note, severity=closed.severity)
        return closed


def complete_step(incident, step: int, user, *, note: str = "", now=None) -> StepCompletion:
    """Mark step ``step`` (1-based) of the incident's playbook version done."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock(incident)
        if locked.playbook_version is None:
            raise IncidentConflict("This incident runs no playbook.", field="step")
        steps = locked.playbook_version.steps
        if not 1 <= step <= len(steps):
            raise ValidationError({"step": f"The playbook has steps 1 to {len(steps)}."})
        if locked.status == IncidentStatus.CLOSED:
            raise IncidentConflict("The incident is closed.", field="status")
        try:
            with transaction.atomic():
                completion = StepCompletion.objects.create(
                    incident=locked,
                    step=step,
                    completed_by=user if getattr(user, "is_authenticated", False) else None,
                    completed_at=now,
                    note=note,
                )
        except IntegrityError:
            raise IncidentConflict(f"Step {step} is already complete.", field="step") from None
        detail = steps[step - 1]
        add_entry(
            locked,
            TimelineKind.STEP,
            f"Step {step} ({detail['kind']}) done: {detail['text']}"
            + (f" Note: {note}" if note else ""),
            user=user,
            at=now,
            data={"step": step, "kind": detail["kind"]},
        )
        return completion


def add_comment(incident, user, text: str, *, now=None):
    if not text or not text.strip():
        raise ValidationError({"text": "Write something."})
    with transaction.atomic():
        return add_entry(incident, TimelineKind.COMMENT, text.strip(), user=user, at=now)


def deadline_right_refusal(incident, user) -> str | None:
    """Why ``user`` may not move ``incident``'s report deadline later or lift it (a
    not-reportable determination), or None. It is a ``change-report-deadline``
    decision: always the approver role and the approve right on the model; a
    ``forbidden`` decision right for the model (or its risk tier) refuses everyone."""
    right = decisions.rights_for(DecisionAction.CHANGE_REPORT_DEADLINE, incident.model)
    if right is not None and right.forbidden:
        return (
            f"Decision right {right}: the report deadline of {incident.model.name}'s "
            "incidents is never moved or lifted."
        )
    allowed, reason = decisions.can_approve(
        user, DecisionAction.CHANGE_REPORT_DEADLINE, incident.model
    )
    if allowed:
        return None
    return f"Moving or lifting a report deadline is a change-report-deadline decision. {reason}"


def _history_entry(incident, deadline, *, user, now, in_force: bool, reason: str) -> dict:
    return {
        "deadline": deadline.isoformat() if deadline else None,
        "category": incident.serious_category,
        "aware_at": incident.aware_at.isoformat() if incident.aware_at else None,
        "at": now.isoformat(),
        "by": actor_name(user),
        "in_force": in_force,
        "reason": reason,
    }


def _utc(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def mark_serious(
    incident, user, *, category: str, aware_at, reason: str = "", now=None
) -> Incident:
    """Start or change the EU AI Act reporting clock (Art. 73).

    Every deadline the category and awareness give is kept in ``deadline_history``.
    The deadline in force only moves earlier by itself: a change that would move it
    later keeps the earlier one, unless ``reason`` is given by a person holding the
    ``change-report-deadline`` decision (see ``deadline_right_refusal``), which is
    then audited as ``incident.change_report_deadline``. Once a clock runs, emptying
    the category does not stop it: record the report or a not-reportable determination.
    """
    now = now or timezone.now()
    reason = (reason or "").strip()
    with transaction.atomic():
        locked = _lock(incident)
        previous = locked.report_deadline
        if locked.not_reportable_at is not None:
            raise IncidentConflict(
                f"{locked.not_reportable_by or 'Someone'} determined this incident not "
                f"reportable on {_utc(locked.not_reportable_at)}; its clock is stopped.",
                field="category",
            )
        if not category:
            if previous is not None:
                raise IncidentConflict(
                    "A running reporting clock does not stop by removing the category: record "
                    "the report (POST .../report) or a not-reportable determination "
                    "(POST .../not-reportable).",
                    field="category",
                )
            return locked
        locked.serious_category = category
        locked.aware_at = aware_at
        locked.full_clean(validate_constraints=False)
        computed = Incident.deadline_for(category, aware_at)
        later = previous is not None and computed > previous
        if later and reason:
            refusal = deadline_right_refusal(locked, user)
            if refusal:
                raise NotAllowed(refusal, field="reason")
        in_force = not later or bool(reason)
        if in_force:
            locked.report_deadline = computed
        if locked.report_deadline != previous:
            locked.deadline_warned_at = None
        locked.deadline_history = [
            *locked.deadline_history,
            _history_entry(locked, computed, user=user, now=now, in_force=in_force, reason=reason),
        ]
        locked.save(
            update_fields=[
                "serious_category",
                "aware_at",
                "report_deadline",
                "deadline_warned_at",
                "deadline_history",
            ]
        )
        label = locked.get_serious_category_display()
        if previous is None:
            message = f"Marked serious ({label}); report due {_utc(computed)}."
        elif later and in_force:
            message = (
                f"Marked serious ({label}); report deadline moved from {_utc(previous)} to "
                f"{_utc(computed)} by {actor_name(user)}: {reason}"
            )
        elif later:
            message = (
                f"Marked serious ({label}); this gives {_utc(computed)}, but the report stays "
                f"due {_utc(previous)}, the earliest deadline in force. A later deadline needs "
                "a reason from someone holding the change-report-deadline decision."
            )
        elif computed != previous:
            message = (
                f"Marked serious ({label}); report deadline moved earlier from "
                f"{_utc(previous)} to {_utc(computed)}."
            )
        else:
            message = f"Marked serious ({label}); report still due {_utc(computed)}."
        add_entry(
            locked,
            TimelineKind.REGULATORY,
            message,
            user=user,
            at=now,
            data={
                "category": category,
                "deadline": locked.report_deadline,
                "computed_deadline": computed,
                "previous_deadline": previous,
                "reason": reason,
            },
        )
        record_decision(
            "incident.mark_serious",
            locked,
            category=category,
            aware_at=locked.aware_at,
            report_deadline=locked.report_deadline,
            computed_deadline=computed,
            previous_deadline=previous,
        )
        if later and in_force:
            record_decision(
                "incident.change_report_deadline",
                locked,
                from_deadline=previous,
                to_deadline=computed,
                reason=reason,
                decided_by=actor_name(user),
                category=category,
            )
        return locked


def determine_not_reportable(incident, user, *, reason: str, now=None) -> Incident:
    """Record that a serious incident is not reported to the authority, why, and who
    decided: a ``change-report-deadline`` decision (it lifts the deadline). The deadline
    and its history stay on the incident; it is no longer overdue and may close."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this incident is not reportable."})
    with transaction.atomic():
        locked = _lock(incident)
        if not locked.serious_category:
            raise IncidentConflict(
                "Only a serious incident has a report to determine.", field="serious_category"
            )
        if locked.reported_at is not None:
            raise IncidentConflict(
                f"The report was recorded as sent on {_utc(locked.reported_at)}.",
                field="reported_at",
            )
        if locked.not_reportable_at is not None:
            raise IncidentConflict(
                "This incident was already determined not reportable.", field="reason"
            )
        refusal = deadline_right_refusal(locked, user)
        if refusal:
            raise NotAllowed(refusal, field="user")
        locked.not_reportable_at = now
        locked.not_reportable_by = user if getattr(user, "is_authenticated", False) else None
        locked.not_reportable_reason = reason
        locked.full_clean(validate_constraints=False)
        locked.save(
            update_fields=["not_reportable_at", "not_reportable_by", "not_reportable_reason"]
        )
        add_entry(
            locked,
            TimelineKind.REGULATORY,
            f"Determined not reportable by {actor_name(user)} (the report was due "
            f"{_utc(locked.report_deadline)}): {reason}",
            user=user,
            at=now,
            data={"deadline": locked.report_deadline, "reason": reason},
        )
        record_decision(
            "incident.not_reportable",
            locked,
            reason=reason,
            decided_by=actor_name(user),
            category=locked.serious_category,
            report_deadline=locked.report_deadline,
        )
        return locked


def record_report(incident, user, *, reported_at=None, now=None) -> Incident:
    """The report went to the authority: the clock stops. ``reported_at`` may not
    precede awareness nor lie in the future (the model's ``clean``), and is recorded once."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock(incident)
        if not locked.serious_category:
            raise IncidentConflict("Only a serious incident is reported.", field="serious_category")
        if locked.reported_at is not None:
            raise IncidentConflict(
                f"The report was already recorded as sent on {_utc(locked.reported_at)}.",
                field="reported_at",
            )
        locked.reported_at = reported_at or now
        locked.full_clean(validate_constraints=False)
        locked.save(update_fields=["reported_at"])
        late = locked.report_deadline is not None and locked.reported_at > locked.report_deadline
        add_entry(
            locked,
            TimelineKind.REGULATORY,
            f"Reported to the authority at {_utc(locked.reported_at)}"
            + (f", after the deadline ({_utc(locked.report_deadline)})." if late else "."),
            user=user,
            at=now,
            data={"reported_at": locked.reported_at, "deadline": locked.report_deadline},
        )
        record_decision(
            "incident.report",
            locked,
            reported_at=locked.reported_at,
            report_deadline=locked.report_deadline,
            late=late,
        )
        return locked
