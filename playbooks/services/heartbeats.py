"""Monitors that prove they are alive, as healthchecks does it: a threshold that
expects a reading every ``expected_every`` (plus ``grace``) and has had none since
is *silent*. The beat task (``playbooks.detect_silent_monitors``) finds them and
raises one ``monitor-silent`` signal per silence through triage, which makes it
questionable and opens an investigation task; readings returning end the silence
(``playbooks.services.readings``).

Each silence is claimed by a conditional UPDATE (``silent_since`` set only where it
is still empty and the reading still overdue), so two beat workers racing on the
same threshold raise one signal between them, and a second run raises nothing."""

from django.db import transaction
from django.utils import timezone
from django.utils.timesince import timesince

from playbooks.choices import SignalKind, SignalSource
from playbooks.models import Signal
from playbooks.services import linking
from playbooks.services.common import Trail
from playbooks.services.triage import raise_signal
from risk.models import Threshold

SENDER = "govreg heartbeat"


def detect_silent(*, now=None, limit: int = 1000) -> list[int]:
    """Raise a ``monitor-silent`` signal for each threshold that fell silent; the ids
    of the signals this run raised (each silence once, whoever runs first)."""
    now = now or timezone.now()
    due = (
        Threshold.objects.overdue(now)
        .filter(silent_since__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    raised = []
    for pk in list(due):
        signal = silence(pk, now=now)
        if signal is not None:
            raised.append(signal.pk)
    return raised


def silence(threshold_id: int, *, now) -> Signal | None:
    """Claim the silence of one threshold and raise its signal, in one transaction;
    None when it is not (or no longer) silent, or another run claimed it."""
    with transaction.atomic():
        claimed = (
            Threshold.objects.overdue(now)
            .filter(pk=threshold_id, silent_since__isnull=True)
            .update(silent_since=now)
        )
        if claimed != 1:
            return None
        threshold = Threshold.objects.select_related(
            "risk",
            "model_version__model__team",
            "deployment__model__team",
            "deployment__model_version",
            "deployment__environment",
        ).get(pk=threshold_id)
        trail = Trail()
        quiet_for = timesince(threshold.last_reading_at, now)
        trail.decision(
            "threshold.silent",
            threshold,
            metric=threshold.metric,
            last_reading_at=threshold.last_reading_at.isoformat(),
            expected_every_seconds=int(threshold.expected_every.total_seconds()),
            grace_seconds=int(threshold.grace.total_seconds()),
            risk=threshold.risk_id,
        )
        signal = raise_signal(_signal_input(threshold, now, quiet_for), _links(threshold),
                              now=now, trail=trail)  # fmt: skip
        trail.write()
        return signal


def _links(threshold: Threshold) -> linking.Links:
    deployment = threshold.deployment
    if deployment is not None:
        return linking.Links(
            model=deployment.model,
            model_version=deployment.model_version,
            environment=deployment.environment,
            deployment=deployment,
        )
    version = threshold.model_version
    return linking.Links(model=version.model, model_version=version)


def _signal_input(threshold: Threshold, now, quiet_for: str) -> linking.SignalInput:
    deployment = threshold.deployment
    version = deployment.model_version if deployment is not None else threshold.model_version
    cadence = timesince(now - threshold.expected_every, now)
    summary = (
        f"threshold {threshold.metric!r} expects a reading every {cadence} and has had "
        f"none for {quiet_for} (since {threshold.last_reading_at:%Y-%m-%d %H:%M} UTC)"
    )
    return linking.SignalInput(
        source=SignalSource.HEARTBEAT,
        kind=SignalKind.MONITOR_SILENT,
        sender=SENDER,
        metric=threshold.metric,
        observed_at=now,
        labels={
            "alertname": f"silent monitor {threshold.metric}",
            "threshold": str(threshold.pk),
            "risk": str(threshold.risk_id),
        },
        annotations={"summary": summary},
        model_name=version.model.name,
        version_name=version.version,
        environment_name=deployment.environment.name if deployment is not None else "",
        deployment_id=deployment.pk if deployment is not None else None,
    )
