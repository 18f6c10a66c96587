"""Retention of raw OpenLineage events (``GOVREG_LINEAGE_EVENT_RETENTION_DAYS``).

The raw ``LineageEvent`` rows grow without bound while the graph they were projected
into (namespaces, datasets, versions, jobs, runs, edges) stays small; Marquez had to
add the same purge. What is deleted: raw events whose event time is older than the
retention. What is kept, whatever its age:

- every projection: a purge deletes ``LineageEvent`` rows and nothing else;
- every event still queued for its projection (``lineage.queue``);
- the events of *evidence runs*, the runs a governance record outside lineage refers
  to, directly or through the lineage a dossier or an approval reads:

  * a run a record refers to (a model version's ``training_run``), its parent and
    child runs (a scheduler's DAG run and its task runs);
  * the runs that wrote a dataset version a record refers to (a risk, an incident, a
    feature version, an impact notification);
  * transitively, the runs that wrote what those runs read, up to ``graph.MAX_DEPTH``
    hops: the training-data provenance of a dossier, and what an approval's lineage
    fingerprint covers.

  The referring records are found from the models' relations (every relation from
  another app to ``Run`` or ``DatasetVersion``), so a new governance record that
  refers to lineage is covered without a change here.

Each batch (``GOVREG_LINEAGE_PURGE_BATCH`` events) is one transaction of two
statements, a keyset-paged read and one ``DELETE`` by primary key, so a purge never
holds a long lock and a worker killed mid-purge leaves whole batches. A purge that
deleted something is one audit event ``lineage.events.purge`` with the counts.

The audit trail's ``lineage.ingest`` event of each purged event stays (the chain is
append-only) and keeps its body hash, so which events were received stays provable
after their bodies are gone.

A replay of a purged event (an emitter's retry days later) is stored again and
projected idempotently (event-time rules keep newer state), and the next purge
deletes it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import record
from lineage import graph
from lineage.models import DatasetVersion, LineageEvent, Run, RunInput, RunOutput


@dataclass
class PurgeResult:
    retention_days: int
    cutoff: datetime | None = None
    deleted: int = 0
    kept: int = 0  # events older than the cutoff kept because they are evidence
    batches: int = 0
    evidence_runs: int = 0
    finished: bool = True  # False when ``max_batches`` stopped it before the end

    def as_dict(self) -> dict:
        return {
            "retention_days": self.retention_days,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "deleted": self.deleted,
            "kept": self.kept,
            "batches": self.batches,
            "evidence_runs": self.evidence_runs,
            "finished": self.finished,
        }


def _outside_relations(model):
    """The relations to ``model`` from models of other apps (the governance records)."""
    return [
        rel
        for rel in model._meta.related_objects
        if rel.related_model._meta.app_label != model._meta.app_label
    ]


def _referenced(model) -> set[int]:
    """Primary keys of the ``model`` rows another app's record refers to."""
    found: set[int] = set()
    for rel in _outside_relations(model):
        found |= set(
            model.objects.filter(**{f"{rel.name}__isnull": False})
            .values_list("pk", flat=True)
            .distinct()
        )
    return found


def evidence_run_ids() -> set[int]:
    """Primary keys of the runs whose raw events are kept (see the module docstring)."""
    runs = _referenced(Run)
    family = Run.objects.filter(pk__in=runs).exclude(parent=None).values_list("parent_id")
    runs |= {pk for (pk,) in family}
    runs |= set(Run.objects.filter(parent_id__in=runs).values_list("pk", flat=True))
    versions = _referenced(DatasetVersion)
    if versions:
        runs |= set(
            RunOutput.objects.filter(dataset_version_id__in=versions).values_list(
                "run_id", flat=True
            )
        )
        runs |= set(
            DatasetVersion.objects.filter(pk__in=versions)
            .exclude(producing_run=None)
            .values_list("producing_run_id", flat=True)
        )
    frontier = set(runs)
    for _ in range(graph.MAX_DEPTH):
        if not frontier:
            break
        read = RunInput.objects.filter(run_id__in=frontier).values("dataset_version_id")
        writers = set(
            RunOutput.objects.filter(dataset_version_id__in=read).values_list("run_id", flat=True)
        )
        frontier = writers - runs
        runs |= frontier
    return runs


def purge_lineage_events(
    *,
    days: int | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    now: datetime | None = None,
) -> PurgeResult:
    """Delete raw events older than ``days`` (default: the setting; 0 keeps all) in
    transactions of ``batch_size`` events, sparing the evidence runs' events; one audit
    event when something was deleted. Running it twice deletes nothing the second time."""
    days = settings.GOVREG_LINEAGE_EVENT_RETENTION_DAYS if days is None else days
    batch_size = batch_size or settings.GOVREG_LINEAGE_PURGE_BATCH
    result = PurgeResult(retention_days=days)
    if days <= 0:
        return result
    result.cutoff = (now or timezone.now()) - timedelta(days=days)
    evidence = evidence_run_ids()
    kept_uuids = set(Run.objects.filter(pk__in=evidence).values_list("run_id", flat=True))
    result.evidence_runs = len(evidence)
    last_pk = 0
    while max_batches is None or result.batches < max_batches:
        with transaction.atomic():
            rows = list(
                LineageEvent.objects.filter(event_time__lt=result.cutoff, pk__gt=last_pk)
                .filter(pending__isnull=True)  # a queued event is projected first
                .order_by("pk")
                .values_list("pk", "run_id")[:batch_size]
            )
            if not rows:
                break
            last_pk = rows[-1][0]
            doomed = [pk for pk, run_id in rows if run_id is None or run_id not in kept_uuids]
            result.kept += len(rows) - len(doomed)
            if doomed:
                result.deleted += LineageEvent.objects.filter(pk__in=doomed).delete()[0]
            result.batches += 1
        if len(rows) < batch_size:
            break
    else:
        result.finished = not LineageEvent.objects.filter(
            event_time__lt=result.cutoff, pk__gt=last_pk, pending__isnull=True
        ).exists()
    if result.deleted:
        with transaction.atomic():
            record(
                "lineage.events.purge",
                object_type="lineage.lineageevent",
                after=result.as_dict(),
            )
    return result
