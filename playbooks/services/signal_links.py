"""Linking signals to an incident: set each signal's incident and write one timeline
line for the signals that joined in one transaction. The one place this is done,
whether a signal opened the incident (``incidents.open_incident``) or joined an
active one (triage's batch)."""

from collections import Counter

from playbooks.choices import TimelineKind
from playbooks.services.common import add_entry


def signal_entry(incident, signal, *, at=None, add=add_entry):
    """The timeline line of one signal (``add``: how lines are written)."""
    what = signal.metric or signal.labels.get("alertname", "signal")
    value = "" if signal.value is None else f" = {signal.value:g}"
    status = f" [{signal.alert_status}]" if signal.alert_status else ""
    return add(
        incident,
        TimelineKind.SIGNAL,
        f"Signal {what}{value}{status}: {signal.triage}. {signal.triage_reason}".strip(),
        signal=signal,
        at=at,
        data={"signal": signal.pk, "triage": signal.triage},
    )


def link_signals(incident, signals: list, *, at, add=add_entry) -> None:
    """Link ``signals`` to ``incident`` (their rows are written by the caller) and add
    one timeline line for them: the signal's own line, or a summary of a storm."""
    for signal in signals:
        signal.incident = incident
    if len(signals) == 1:
        signal_entry(incident, signals[0], at=at, add=add)
        return
    outcomes = Counter(signal.triage for signal in signals)
    values = [signal.value for signal in signals if signal.value is not None]
    metrics = sorted({signal.metric for signal in signals if signal.metric})
    spread = f" ({min(values):g} to {max(values):g})" if values else ""
    add(
        incident,
        TimelineKind.SIGNAL,
        f"{len(signals)} signals {', '.join(metrics) or ''}{spread}: "
        + ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())),
        signal=signals[0],
        at=at,
        data={"signals": [signal.pk for signal in signals], "triage": dict(outcomes)},
    )
