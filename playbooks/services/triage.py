"""Signal intake and triage: store every well-formed signal, link it to what the
sender may see, classify it against thresholds and act: benign is recorded,
questionable opens an investigation task, critical opens (or joins) an incident."""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from audit.services import record_decision
from playbooks.choices import (
    ACTIVE_STATUSES,
    AlertStatus,
    Severity,
    TaskStatus,
    Triage,
)
from playbooks.models import Incident, InvestigationTask, Playbook, Signal
from playbooks.services import linking
from playbooks.services.common import IncidentConflict
from playbooks.services.incidents import open_incident, signal_entry
from playbooks.services.notify import group_emails, send
from playbooks.services.playbooks import latest_version

log = logging.getLogger(__name__)

SEVERITY_LABELS = {
    "critical": Triage.CRITICAL,
    "page": Triage.CRITICAL,
    "warning": Triage.QUESTIONABLE,
}
RANK = {Triage.BENIGN: 0, Triage.QUESTIONABLE: 1, Triage.CRITICAL: 2}


@dataclass
class SignalInput:
    """One signal as received, before it is stored."""

    source: str
    metric: str = ""
    value: float | None = None
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    sender: str = ""
    fingerprint: str = ""
    alert_status: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    observed_at: datetime | None = None
    generator_url: str = ""
    group_key: str = ""
    receiver: str = ""
    payload: dict = field(default_factory=dict)
    model_name: str = ""
    version_name: str = ""
    environment_name: str = ""
    deployment_id: int | None = None


@dataclass
class Decision:
    outcome: str
    reason: str
    threshold: object | None = None
    playbook: Playbook | None = None


def choose_playbook(model, threshold, labels: dict) -> Playbook | None:
    """The model's team's playbook for this signal: the one naming the threshold,
    else the one whose label matchers all match, else the one for the risk category."""
    candidates = list(
        Playbook.objects.filter(team_id=model.team_id, active=True)
        .prefetch_related("thresholds")
        .order_by("name")
    )
    if threshold is not None:
        by_threshold = [p for p in candidates if threshold.pk in _threshold_ids(p)]
        if by_threshold:
            return by_threshold[0]
    for playbook in candidates:
        if playbook.matches_labels(labels):
            return playbook
    category = getattr(getattr(threshold, "risk", None), "category", None)
    if category:
        for playbook in candidates:
            if playbook.risk_category == category:
                return playbook
    return None


def _threshold_ids(playbook) -> set[int]:
    cached = getattr(playbook, "_threshold_ids", None)
    if cached is None:
        cached = {threshold.pk for threshold in playbook.thresholds.all()}
        playbook._threshold_ids = cached
    return cached


def decide(signal: Signal, links: linking.Links) -> Decision:
    """The triage rule, in order: a value against the worst-classifying threshold;
    no threshold and a playbook that marks such signals critical; the alert's
    ``severity`` label (critical/page -> critical, warning -> questionable);
    otherwise benign, recorded only."""
    thresholds = linking.thresholds_for(links, signal.metric) if signal.metric else []
    best = None
    if signal.value is not None:
        for threshold in thresholds:
            outcome = threshold.classify(signal.value)
            if best is None or RANK[outcome] > RANK[best[0]]:
                best = (outcome, threshold)
    if best is not None:
        outcome, threshold = best
        playbook = choose_playbook(links.model, threshold, signal.labels)
        reason = (
            f"{signal.metric}={signal.value:g} is {outcome} against threshold "
            f"{threshold.comparator} warning {threshold.warning_value:g} / critical "
            f"{threshold.critical_value:g}"
        )
        return Decision(outcome, reason, threshold, playbook)
    playbook = choose_playbook(links.model, None, signal.labels)
    if not thresholds and playbook is not None and playbook.unthresholded_is_critical:
        return Decision(
            Triage.CRITICAL,
            f"no threshold for {signal.metric or 'this signal'}; playbook {playbook.name} "
            "marks such signals critical",
            None,
            playbook,
        )
    severity = str(signal.labels.get("severity", "")).lower()
    if severity:
        outcome = SEVERITY_LABELS.get(severity, Triage.BENIGN)
        return Decision(outcome, f"alert severity label {severity!r}", None, playbook)
    what = "no value" if signal.value is None else f"no threshold for {signal.metric!r}"
    return Decision(Triage.BENIGN, f"{what}; recorded only", None, playbook)


def dedup_key(signal: Signal) -> str:
    if signal.fingerprint:
        return signal.alert_key
    parts = [str(signal.model_id), signal.environment_name, signal.metric]
    return "sig:" + ":".join(parts)


def _existing_incident(signal: Signal) -> Incident | None:
    key = dedup_key(signal)
    incidents = Incident.objects.filter(dedup_key=key)
    if not signal.fingerprint:
        incidents = incidents.filter(status__in=ACTIVE_STATUSES)
    return incidents.order_by("-opened_at").first()


def ingest(data: SignalInput, user, *, now=None) -> Signal:
    """Store one signal and act on it. Never refuses a well-formed signal: if acting on
    it fails, the signal is still stored (unlinked, with the reason) and the failure
    logged, because a sender such as Alertmanager would retry a refusal forever."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            return _ingest(data, user, now=now)
    except (DatabaseError, ValidationError, IncidentConflict, ValueError, TypeError) as exc:
        log.exception("could not triage signal %s/%s", data.source, data.fingerprint)
        signal = _new_signal(data, now)
        signal.triage_reason = f"stored without triage: {type(exc).__name__}: {exc}"[:1000]
        signal.save()
        return signal


def _new_signal(data: SignalInput, now) -> Signal:
    return Signal(
        source=data.source,
        sender=data.sender[:200],
        observed_at=data.observed_at or data.starts_at or now,
        metric=data.metric[:200],
        value=data.value,
        labels=data.labels,
        annotations=data.annotations,
        fingerprint=data.fingerprint[:64],
        alert_status=data.alert_status,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        generator_url=data.generator_url[:1000],
        group_key=data.group_key[:500],
        receiver=data.receiver[:200],
        payload=data.payload,
        model_name=data.model_name[:100],
        version_name=data.version_name[:100],
        environment_name=data.environment_name[:100],
        triage=Triage.UNLINKED,
    )


def _ingest(data: SignalInput, user, *, now) -> Signal:
    with transaction.atomic():
        links = linking.resolve(
            user,
            model_name=data.model_name,
            version_name=data.version_name,
            environment_name=data.environment_name,
            deployment_id=data.deployment_id,
        )
        signal = _new_signal(data, now)
        return _triage_and_act(signal, links, user, now=now)


def _triage_and_act(signal: Signal, links: linking.Links, user, *, now) -> Signal:
    if not links.linked:
        signal.triage = Triage.UNLINKED
        signal.triage_reason = "labels name no model known to the sender"
        signal.save()
        return signal
    signal.model = links.model
    signal.model_version = links.model_version
    signal.deployment = links.deployment
    if links.environment is not None:
        signal.environment_name = links.environment.name
    if signal.alert_status == AlertStatus.RESOLVED:
        signal.triage = Triage.RESOLVED
        signal.triage_reason = "the alert stopped firing"
        signal.save()
        incident = _existing_incident(signal)
        if incident is not None:
            Signal.objects.filter(pk=signal.pk).update(incident=incident)
            signal.incident = incident
            signal_entry(incident, signal, at=now)
        return signal

    decision = decide(signal, links)
    version = latest_version(decision.playbook) if decision.playbook else None
    signal.triage = decision.outcome
    signal.triage_reason = decision.reason
    signal.playbook_version = version
    if decision.threshold is not None:
        t = decision.threshold
        signal.threshold_id = t.pk
        signal.threshold_warning = t.warning_value
        signal.threshold_critical = t.critical_value
        signal.threshold_comparator = t.comparator
        signal.hypothesis = t.hypothesis
    signal.save()
    record_decision(
        "signal.triage",
        signal,
        outcome=signal.triage,
        reason=signal.triage_reason,
        threshold=signal.threshold_id,
        hypothesis=signal.hypothesis,
        playbook_version=version.pk if version else None,
    )
    if signal.triage == Triage.CRITICAL:
        _open_or_join(signal, links, decision, version, user, now=now)
    elif signal.triage == Triage.QUESTIONABLE:
        _investigate(signal, now=now)
    else:
        incident = _existing_incident(signal) if signal.fingerprint else None
        if incident is not None:
            Signal.objects.filter(pk=signal.pk).update(incident=incident)
            signal_entry(incident, signal, at=now)
    return signal


def _open_or_join(signal, links, decision, version, user, *, now) -> Incident:
    incident = _existing_incident(signal)
    if incident is None:
        name = signal.labels.get("alertname") or signal.metric or "signal"
        where = f" in {signal.environment_name}" if signal.environment_name else ""
        summary = signal.annotations.get("summary") or signal.annotations.get("description", "")
        try:
            with transaction.atomic():
                incident = open_incident(
                    model=signal.model,
                    title=f"{name} critical on {signal.model.name}{where}",
                    description=f"{summary}\n\nTriage: {decision.reason}".strip(),
                    severity=Severity.CRITICAL,
                    playbook_version=version,
                    environment_name=signal.environment_name,
                    dedup_key=dedup_key(signal),
                    signal=signal,
                    links=linking.incident_links(links, decision.threshold),
                    now=now,
                )
            Signal.objects.filter(pk=signal.pk).update(incident=incident)
            signal.incident = incident
            return incident
        except IntegrityError:  # a concurrent delivery opened it first
            incident = _existing_incident(signal)
            if incident is None:
                raise IncidentConflict("could not open or find the incident") from None
    Signal.objects.filter(pk=signal.pk).update(incident=incident)
    signal.incident = incident
    signal_entry(incident, signal, at=now)
    return incident


def _investigate(signal: Signal, *, now) -> InvestigationTask:
    key = dedup_key(signal)
    task = InvestigationTask.objects.filter(dedup_key=key, status=TaskStatus.OPEN).first()
    if task is None:
        name = signal.labels.get("alertname") or signal.metric or "signal"
        try:
            with transaction.atomic():
                task = InvestigationTask.objects.create(
                    model=signal.model,
                    title=f"Investigate {name} on {signal.model.name}",
                    description=signal.triage_reason,
                    dedup_key=key,
                )
        except IntegrityError:
            task = InvestigationTask.objects.get(dedup_key=key, status=TaskStatus.OPEN)
        else:
            recipients = group_emails(signal.model.team)
            subject = f"[govreg] Investigate: {task.title}"
            body = (
                f"A questionable signal on model {signal.model.name}: {signal.triage_reason}.\n"
                f"Hypothesis: {signal.hypothesis or '(none recorded)'}\n"
                f"Investigation task #{task.pk}."
            )
            transaction.on_commit(lambda: send(subject, body, recipients))
    Signal.objects.filter(pk=signal.pk).update(investigation_task=task)
    signal.investigation_task = task
    return task


def map_signal(signal: Signal, user, *, model, version_name="", environment_name="", now=None):
    """Link an unlinked signal to a model (and version/environment) and triage it."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Signal.objects.select_for_update().get(pk=signal.pk)
        if locked.triage != Triage.UNLINKED:
            raise IncidentConflict("Only an unlinked signal can be mapped.", field="signal")
        links = linking.resolve(
            user,
            model_name=model.name,
            version_name=version_name or locked.version_name,
            environment_name=environment_name or locked.environment_name,
        )
        if not links.linked:
            raise IncidentConflict("No such model.", field="model")
        locked.mapped_at = now
        locked.mapped_by = user
        locked.version_name = version_name or locked.version_name
        locked.environment_name = environment_name or locked.environment_name
        return _triage_and_act(locked, links, user, now=now)


def close_task(task: InvestigationTask, user, *, resolution: str = "", now=None):
    """The team looked: close the task once (a conditional UPDATE), saying what it found."""
    with transaction.atomic():
        changed = InvestigationTask.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
            status=TaskStatus.DONE,
            closed_at=now or timezone.now(),
            closed_by=user,
            resolution=resolution,
        )
        if changed != 1:
            raise IncidentConflict("The task is already closed.", field="status")
        task.refresh_from_db()
        record_decision("investigation.close", task, resolution=resolution)
        return task


__all__ = ["SignalInput", "close_task", "decide", "ingest", "map_signal"]
