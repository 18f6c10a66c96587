"""Signal intake and triage: store every well-formed signal, link it to what the
sender may see, classify it against thresholds and act: benign is recorded,
questionable opens an investigation task, critical opens (or joins) an incident.

Intake and triage are two steps, so one delivery never holds the database (or the
audit chain's lock) for long. ``receive`` stores a whole delivery in one insert, in
state ``received``, with one audit event for the delivery; a reading already stored
(same ``linking.intake_key``) is not stored again. ``triage_received`` then triages
the stored signals in transactions of at most ``GOVREG_SIGNALS_TRIAGE_BATCH``
signals each. A signal is triaged once: only while it is still ``received``, under
its row lock."""

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, FilteredRelation, Q
from django.utils import timezone

from accounts import notify
from audit.services import record_decision
from audit.tracking import rows_digest
from config.statements import Statement
from lineage.services import insert_returning
from playbooks.choices import AlertStatus, Severity, SignalKind, TaskStatus, Triage
from playbooks.models import Incident, InvestigationTask, Playbook, Signal
from playbooks.services import linking
from playbooks.services.common import IncidentConflict, Trail
from playbooks.services.incidents import AlreadyOpen, open_incident
from playbooks.services.linking import SignalInput
from playbooks.services.readings import Readings
from playbooks.services.signal_links import link_signals
from playbooks.services.timeline import Lines

log = logging.getLogger(__name__)

SEVERITY_LABELS = {
    "critical": Triage.CRITICAL,
    "page": Triage.CRITICAL,
    "warning": Triage.QUESTIONABLE,
}
RANK = {Triage.BENIGN: 0, Triage.QUESTIONABLE: 1, Triage.CRITICAL: 2}
_KEY_CHUNK = 2000  # intake keys per IN (...) lookup
# What triage writes on the stored row (one UPDATE, one audit event per signal).
TRIAGE_FIELDS = [
    "triage",
    "triage_reason",
    "model",
    "model_version",
    "deployment",
    "environment_name",
    "version_name",
    "threshold",
    "threshold_warning",
    "threshold_critical",
    "threshold_comparator",
    "hypothesis",
    "playbook_version",
    "incident",
    "investigation_task",
    "mapped_at",
    "mapped_by",
]


# The receipt's digest covers what was received, so it can be checked against the
# stored rows at any time after triage filled these in.
RECEIPT_EXCLUDES = frozenset(TRIAGE_FIELDS)


@dataclass
class Decision:
    outcome: str
    reason: str
    threshold: object | None = None
    playbook: Playbook | None = None


@dataclass
class Receipt:
    """What one delivery stored: a signal per input, in order (a repeated reading is
    the signal stored before), and which inputs repeated a stored reading."""

    signals: list[Signal] = field(default_factory=list)
    duplicate: list[bool] = field(default_factory=list)
    stored: int = 0

    @property
    def received(self) -> int:
        return len(self.signals)

    @property
    def duplicates(self) -> int:
        return self.received - self.stored

    def waiting_ids(self) -> list[int]:
        """Signals of this delivery still waiting for triage, each once."""
        return sorted({s.pk for s in self.signals if s.triage == Triage.RECEIVED})


def _playbooks_of_team(team):
    return (
        Playbook.objects.filter(team_id=team, active=True)
        .annotate(
            current=FilteredRelation("versions", condition=Q(versions__number=F("current_version")))
        )
        .select_related("current")
        .order_by("name")
    )


# compiled once (config.statements): asked for every alert triaged
_PLAYBOOKS = Statement(_playbooks_of_team, team=int)


def choose_playbook(model, threshold, labels: dict, cache=None) -> Playbook | None:
    """The model's team's playbook for this signal: the one naming the threshold (a
    threshold from ``linking.thresholds_for`` carries it), else the one whose label
    matchers all match, else the one for the risk category. Each candidate comes with
    its current version (``current``) in the same query."""

    def load():
        return _PLAYBOOKS.all(team=model.team_id)

    candidates = cache.remember(("playbooks", model.team_id), load) if cache else load()
    naming = getattr(threshold, "naming_playbook_id", None)
    if naming is not None:
        by_threshold = [p for p in candidates if p.pk == naming]
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


def decide(signal: Signal, links: linking.Links, cache=None) -> Decision:
    """The triage rule, in order: a value against the worst-classifying threshold;
    no threshold and a playbook that marks such signals critical; the alert's
    ``severity`` label (critical/page -> critical, warning -> questionable);
    otherwise benign, recorded only."""
    if signal.kind == SignalKind.FEEDBACK:
        return _feedback(signal, links, cache)
    thresholds = linking.thresholds_for(links, signal.metric, cache) if signal.metric else []
    if signal.kind == SignalKind.MONITOR_SILENT:
        return _silent_monitor(signal, links, thresholds, cache)
    best = None
    if signal.value is not None:
        for threshold in thresholds:
            outcome = threshold.classify(signal.value)
            if best is None or RANK[outcome] > RANK[best[0]]:
                best = (outcome, threshold)
    if best is not None:
        outcome, threshold = best
        playbook = choose_playbook(links.model, threshold, signal.labels, cache)
        reason = (
            f"{signal.metric}={signal.value:g} is {outcome} against threshold "
            f"{threshold.comparator} warning {threshold.warning_value:g} / critical "
            f"{threshold.critical_value:g}"
        )
        return Decision(outcome, reason, threshold, playbook)
    playbook = choose_playbook(links.model, None, signal.labels, cache)
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


def _silent_monitor(signal: Signal, links, thresholds, cache) -> Decision:
    """A monitor that stopped reporting is questionable: someone should look at why
    the threshold it feeds went blind (label ``threshold``: the silent one's id)."""
    named = str(signal.labels.get("threshold", ""))
    threshold = next((t for t in thresholds if str(t.pk) == named), None)
    playbook = choose_playbook(links.model, threshold, signal.labels, cache)
    summary = signal.annotations.get("summary") or f"no reading of {signal.metric!r}"
    return Decision(Triage.QUESTIONABLE, f"monitor silent: {summary}", threshold, playbook)


def _feedback(signal: Signal, links, cache) -> Decision:
    """A person's report: critical when a keyword rule or the operator's flag said so
    (label ``severity: critical``, set by ``playbooks.services.feedback``), else
    questionable; no threshold, and no playbook's rule for unthresholded signals, applies."""
    playbook = choose_playbook(links.model, None, signal.labels, cache)
    critical = str(signal.labels.get("severity", "")).lower() == "critical"
    rule = signal.annotations.get("triage_rule") or "a feedback report"
    outcome = Triage.CRITICAL if critical else Triage.QUESTIONABLE
    return Decision(outcome, f"feedback: {rule}", None, playbook)


# --- intake -----------------------------------------------------------------------------


def _new_signal(data: SignalInput, user, now) -> Signal:
    return Signal(
        source=data.source,
        kind=data.kind,
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
        deployment_ref=data.deployment_id,
        intake_key=linking.intake_key(data),
        submitted_by=user if getattr(user, "is_authenticated", False) else None,
        triage=Triage.RECEIVED,
    )


def _stored_by_key(keys) -> dict[str, Signal]:
    keys = list(keys)
    found = {}
    for start in range(0, len(keys), _KEY_CHUNK):
        for signal in Signal.objects.filter(intake_key__in=keys[start : start + _KEY_CHUNK]):
            found[signal.intake_key] = signal
    return found


_INSERT_CHUNK = 5000  # rows per INSERT ... SELECT FROM jsonb_populate_recordset


def _full_precision(value):
    """Moments to the microsecond (DjangoJSONEncoder keeps milliseconds only)."""
    if isinstance(value, datetime):
        return value.isoformat()
    return DjangoJSONEncoder().default(value)


def _insert_new(rows: list[Signal]) -> set[tuple[str]]:
    """Insert the keyed rows whose intake key is not stored yet (``ON CONFLICT DO
    NOTHING``: the unique constraint decides, so concurrent deliveries of the same
    reading never fail each other); sets their ids; returns the inserted keys.

    On PostgreSQL the rows travel as one JSON document per statement and the server
    unpacks them (``jsonb_populate_recordset``): a payload of thousands of alerts
    binds one parameter instead of tens of thousands."""
    if connection.vendor != "postgresql":
        return set(insert_returning(rows, ("intake_key",)))
    fields = [f for f in Signal._meta.concrete_fields if not f.primary_key]
    table = connection.ops.quote_name(Signal._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608 (names, not data)
        f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) "
        "ON CONFLICT DO NOTHING RETURNING id, intake_key"
    )
    by_key = {row.intake_key: row for row in rows}
    inserted = set()
    for start in range(0, len(rows), _INSERT_CHUNK):
        records = [
            {f.column: f.pre_save(row, True) for f in fields}
            for row in rows[start : start + _INSERT_CHUNK]
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, [json.dumps(records, default=_full_precision)])
            for pk, key in cursor.fetchall():
                by_key[key].pk = pk
                by_key[key]._state.adding = False
                inserted.add((key,))
    return inserted


def receive(inputs: list[SignalInput], user, *, now=None) -> Receipt:
    """Store a delivery: every reading not stored before, in one insert, waiting for
    triage; one ``signal.receive`` audit event names what was stored. A delivery that
    repeats only stored readings writes nothing at all."""
    with transaction.atomic():
        trail = Trail()
        receipt = _store(inputs, user, now or timezone.now(), trail)
        # Last in the transaction: the chain's lock is held for this one append.
        trail.write()
    return receipt


def _store(inputs: list[SignalInput], user, now, trail: Trail) -> Receipt:
    """``receive``'s rows, in the caller's transaction; its audit event goes to ``trail``."""
    rows = [_new_signal(data, user, now) for data in inputs]
    receipt = Receipt()
    first_of_key: dict[str, Signal] = {}
    for row in rows:
        if row.intake_key:
            first_of_key.setdefault(row.intake_key, row)
    inserted = _insert_new(list(first_of_key.values()))
    unkeyed = [row for row in rows if not row.intake_key]
    if unkeyed:
        Signal.objects.bulk_create(unkeyed)
    earlier = _stored_by_key(k for k in first_of_key if (k,) not in inserted)
    fresh_keys = set()
    for row in rows:
        if not row.intake_key:
            receipt.signals.append(row)
            receipt.duplicate.append(False)
        elif (row.intake_key,) in inserted and row.intake_key not in fresh_keys:
            fresh_keys.add(row.intake_key)
            receipt.signals.append(row)
            receipt.duplicate.append(False)
        else:
            stored = earlier.get(row.intake_key) or first_of_key[row.intake_key]
            if stored.pk is None:  # stored meanwhile and gone again: a rare race
                raise IncidentConflict("The reading changed while it was stored; send again.")
            receipt.signals.append(stored)
            receipt.duplicate.append(True)
    receipt.stored = len(inserted) + len(unkeyed)
    if receipt.stored:
        pairs = zip(receipt.signals, receipt.duplicate, strict=True)
        ids = sorted(sig.pk for sig, dup in pairs if not dup)
        trail.add(
            "signal.receive",
            object_type=Signal._meta.label_lower,
            object_id=str(ids[0]),
            after={
                "source": inputs[0].source,
                "sender": inputs[0].sender[:200],
                "received": receipt.received,
                "stored": receipt.stored,
                "duplicates": receipt.duplicates,
                "ids": ids,
                "rows_sha256": rows_digest(
                    [
                        sig
                        for sig, dup in zip(receipt.signals, receipt.duplicate, strict=True)
                        if not dup
                    ],
                    RECEIPT_EXCLUDES,
                ),
            },
        )
    return receipt


# --- triage -----------------------------------------------------------------------------


class _Batch:
    """The signals triaged in one transaction: decisions are taken one by one (a signal
    may open the incident the next ones join), then written together: one UPDATE of
    the signals, one timeline line per incident joined, and into ``trail`` (the act's
    audit events, appended by its caller) one audit decision per signal."""

    def __init__(self, now, trail: Trail):
        self.now = now
        self.trail = trail
        self.cache = linking.LinkCache()
        self.incidents: dict[str, Incident | None] = {}  # incident key -> active incident
        self.signals: list[Signal] = []
        self.versions: dict[int, int | None] = {}  # signal -> playbook version id
        self.joined: dict[int, list[Signal]] = {}  # incident id -> signals that joined
        self.incident_of: dict[int, Incident] = {}
        self.readings = Readings()

    def reading(self, signal: Signal, links: linking.Links) -> None:
        """A linked reading proves the monitors of its metric alive (a silent monitor's
        own signal proves nothing)."""
        if not signal.metric or signal.kind == SignalKind.MONITOR_SILENT:
            return
        moment = min(signal.observed_at or self.now, self.now)
        for threshold in linking.thresholds_for(links, signal.metric, self.cache):
            self.readings.add(threshold, moment)

    def incident_to_join(self, signal: Signal) -> Incident | None:
        key = linking.incident_key(signal)
        if key not in self.incidents:  # both rules, once per incident key
            self.incidents[key] = linking.incident_to_join(signal)
            return self.incidents[key]
        return self.incidents[key] or linking.incident_to_join(signal, by_key=False)

    def join(self, signal: Signal, incident: Incident) -> None:
        """The signal joins ``incident``; ``write()`` stores the link and its timeline line."""
        signal.incident = incident  # written by the batch's UPDATE
        self.incident_of[incident.pk] = incident
        self.joined.setdefault(incident.pk, []).append(signal)

    def write(self) -> None:
        if not self.signals:
            return
        self.readings.write(self.now, self.trail)
        # Signals with the same outcome (a storm's readings) share one UPDATE.
        columns = [Signal._meta.get_field(name).attname for name in TRIAGE_FIELDS]
        same: dict[tuple, list[int]] = {}
        for signal in self.signals:
            values = tuple(getattr(signal, column) for column in columns)
            same.setdefault(values, []).append(signal.pk)
        for values, ids in same.items():
            Signal.objects.filter(pk__in=ids).update(**dict(zip(columns, values, strict=True)))
        for incident_id, signals in self.joined.items():
            lines = Lines()
            link_signals(self.incident_of[incident_id], signals, at=self.now, add=lines.add)
            lines.write(self.incident_of[incident_id], self.trail)
        for signal in self.signals:
            if signal.triage == Triage.UNLINKED:
                self.trail.decision("signal.triage", signal, outcome=signal.triage,
                                    reason=signal.triage_reason)  # fmt: skip
                continue
            self.trail.decision(
                "signal.triage",
                signal,
                outcome=signal.triage,
                reason=signal.triage_reason,
                model=signal.model_id,
                model_version=signal.model_version_id,
                deployment=signal.deployment_id,
                environment=signal.environment_name,
                threshold=signal.threshold_id,
                threshold_values=[
                    signal.threshold_comparator,
                    signal.threshold_warning,
                    signal.threshold_critical,
                ]
                if signal.threshold_id
                else None,
                hypothesis=signal.hypothesis,
                playbook_version=self.versions.get(signal.pk),
                incident=signal.incident_id,
                investigation_task=signal.investigation_task_id,
                mapped_by=signal.mapped_by_id,
            )


def triage_received(signal_ids, *, now=None) -> list[Signal]:
    """Triage the signals among ``signal_ids`` that still wait, in order, in
    transactions of at most ``GOVREG_SIGNALS_TRIAGE_BATCH`` signals. If one of a batch
    cannot be triaged (a refused state change, invalid links), the batch is redone one
    signal at a time and that one is kept unlinked with the reason. Returns the signals
    triaged by this call."""
    size = settings.GOVREG_SIGNALS_TRIAGE_BATCH
    ids = sorted(set(signal_ids))
    done: list[Signal] = []
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        try:
            done += _triage_batch(chunk, now)
        except (ValidationError, IncidentConflict):
            for pk in chunk:
                try:
                    done += _triage_batch([pk], now)
                except (ValidationError, IncidentConflict) as exc:
                    log.exception("could not triage signal %s", pk)
                    _keep_untriaged(pk, exc)
    return done


def _triage_batch(ids: list[int], now) -> list[Signal]:
    with transaction.atomic():
        signals = list(
            Signal.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("submitted_by")
            .filter(pk__in=ids, triage=Triage.RECEIVED)
            .order_by("pk")
        )
        trail = Trail()
        _triage_signals(signals, now, trail)
        # The audit appends come last, so the chain's lock is held from here to commit.
        trail.write()
        return signals


def _triage_signals(signals: list[Signal], now, trail: Trail) -> None:
    """Triage and act on ``signals`` (each as its sender may see), in the caller's
    transaction; the audit events go to ``trail``."""
    batch = _Batch(now or timezone.now(), trail)
    for signal in signals:
        links = linking.resolve(
            signal.submitted_by,
            model_name=signal.model_name,
            version_name=signal.version_name,
            environment_name=signal.environment_name,
            deployment_id=signal.deployment_ref,
            cache=batch.cache,
        )
        _triage_and_act(signal, links, batch)
    batch.write()


def intake(inputs: list[SignalInput], user, *, now=None) -> Receipt:
    """Store a small delivery (at most ``GOVREG_SIGNALS_TRIAGE_BATCH`` readings) and
    triage its new readings in the same transaction, as ``receive`` then
    ``triage_received`` would: the new rows are this transaction's own, so no other
    triage can hold them (no lock, no reload), and every audit event of the act (the
    receipt first) is appended in one go at its end. When the triage fails (a refused
    state change, invalid links, a database error), only the triage is undone: the
    delivery is stored and its readings wait for ``triage_received``, which triages
    them one at a time. A repeated reading still waiting is left to it too."""
    now = now or timezone.now()
    if len(inputs) > settings.GOVREG_SIGNALS_TRIAGE_BATCH:
        raise ValueError("intake() takes at most one triage batch; use receive()")
    with transaction.atomic():
        trail = Trail()
        receipt = _store(inputs, user, now, trail)
        fresh = [sig for sig, dup in zip(receipt.signals, receipt.duplicate, strict=True)
                 if not dup and sig.triage == Triage.RECEIVED]  # fmt: skip
        kept = len(trail.events)
        if fresh:
            try:
                with transaction.atomic():
                    _triage_signals(fresh, now, trail)
            except (ValidationError, IncidentConflict, DatabaseError):
                log.exception("could not triage a delivery at once; left waiting")
                del trail.events[kept:]
                for signal in fresh:
                    signal.refresh_from_db()
        trail.write()
    return receipt


def raise_signal(data: SignalInput, links: linking.Links, *, now, trail: Trail) -> Signal:
    """Store and triage a signal govreg raises itself (a silent monitor), in the
    caller's transaction: it has no sender to scope its names by, so it comes with
    the links of what raised it. The audit events go to ``trail``."""
    receipt = _store([data], None, now, trail)
    signal = receipt.signals[0]
    if signal.triage == Triage.RECEIVED and not receipt.duplicate[0]:
        batch = _Batch(now, trail)
        _triage_and_act(signal, links, batch)
        batch.write()
    return signal


def _keep_untriaged(pk: int, exc: Exception) -> None:
    with transaction.atomic():
        signal = Signal.objects.select_for_update().filter(pk=pk, triage=Triage.RECEIVED).first()
        if signal is None:
            return
        signal.triage = Triage.UNLINKED
        signal.triage_reason = f"stored without triage: {type(exc).__name__}: {exc}"[:1000]
        signal.save(update_fields=["triage", "triage_reason"])


def ingest(data: SignalInput, user, *, now=None) -> tuple[Signal, bool]:
    """Receive one signal and triage it at once; ``(signal, duplicate)``."""
    receipt = intake([data], user, now=now)
    signal = receipt.signals[0]
    if signal.triage == Triage.RECEIVED:  # a repeat still waiting, or a failed triage
        triage_received([signal.pk], now=now)
        signal.refresh_from_db()
    return signal, receipt.duplicate[0]


def _triage_and_act(signal: Signal, links: linking.Links, batch: _Batch) -> None:
    """Decide and act on one signal (open an incident, an investigation task), in
    memory for the signal itself: ``batch.write()`` stores the outcome. A signal joins
    the active incident of its reading; a critical one opens it when there is none."""
    batch.signals.append(signal)
    if not links.linked:
        signal.triage = Triage.UNLINKED
        signal.triage_reason = "labels name no model known to the sender"
        return
    signal.model = links.model
    signal.model_version = links.model_version
    signal.deployment = links.deployment
    if links.environment is not None:
        signal.environment_name = links.environment.name
    batch.reading(signal, links)
    if signal.alert_status == AlertStatus.RESOLVED:
        signal.triage = Triage.RESOLVED
        signal.triage_reason = "the alert stopped firing"
        decision = version = None
    else:
        decision = decide(signal, links, batch.cache)
        version = _classify(signal, decision, batch)
    incident = batch.incident_to_join(signal)
    if incident is None and signal.triage == Triage.CRITICAL:
        incident = _open(signal, links, decision, version, batch)
    elif incident is None and signal.triage == Triage.QUESTIONABLE:
        signal.investigation_task = _investigate(signal)
    if incident is not None and signal.incident_id != incident.pk:
        batch.join(signal, incident)


def _classify(signal: Signal, decision: Decision, batch: _Batch):
    """Write the decision on the signal (in memory); the playbook version it runs."""
    version = decision.playbook.current if decision.playbook is not None else None
    batch.versions[signal.pk] = version.pk if version else None
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
    return version


def _open(signal, links, decision, version, batch: _Batch) -> Incident:
    """Open the incident of this reading's model, environment and metric, linking the
    signal to it; or, when a concurrent triage opened it first, the one it opened (the
    caller links the signal to that)."""
    name = signal.labels.get("alertname") or signal.metric or "signal"
    where = f" in {signal.environment_name}" if signal.environment_name else ""
    summary = signal.annotations.get("summary") or signal.annotations.get("description", "")
    try:
        # No savepoint: a concurrent opening is skipped by the INSERT (AlreadyOpen),
        # which leaves this transaction usable and has written nothing.
        incident = open_incident(
            model=signal.model,
            title=f"{name} critical on {signal.model.name}{where}",
            description=f"{summary}\n\nTriage: {decision.reason}".strip(),
            severity=Severity.CRITICAL,
            playbook_version=version,
            environment_name=signal.environment_name,
            dedup_key=linking.incident_key(signal),
            signal=signal,
            links=linking.incident_links(links, decision.threshold),
            now=batch.now,
            trail=batch.trail,
        )
    except AlreadyOpen:  # a concurrent triage opened it first
        incident = linking.incident_to_join(signal)
        if incident is None:
            raise IncidentConflict("could not open or find the incident") from None
    batch.incidents[linking.incident_key(signal)] = incident
    return incident


def _investigate(signal: Signal) -> InvestigationTask:
    key = linking.incident_key(signal)
    task = InvestigationTask.objects.filter(dedup_key=key, status=TaskStatus.OPEN).first()
    if task is not None:
        return task
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
        return InvestigationTask.objects.get(dedup_key=key, status=TaskStatus.OPEN)
    notify.deliver_on_commit(
        notify.compose(
            "playbooks/mail/investigation",
            {"signal": signal, "task": task},
            notify.group_emails(signal.model.team),
        )
    )
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
        trail = Trail()
        batch = _Batch(now, trail)
        _triage_and_act(locked, links, batch)
        batch.write()
        trail.write()
        return locked


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


__all__ = [
    "Receipt",
    "SignalInput",
    "close_task",
    "decide",
    "ingest",
    "intake",
    "map_signal",
    "raise_signal",
    "receive",
    "triage_received",
]
