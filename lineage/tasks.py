"""Celery tasks of the lineage app."""

from celery import shared_task

from audit.context import acting_as
from lineage.dvc_import import import_dvc
from lineage.retention import purge_lineage_events


@shared_task(name="lineage.import_dvc")
def import_dvc_task(path: str, namespace: str = "dvc", rev: str | None = None, actor: str = ""):
    """Import a DVC repository (see ``lineage.dvc_import``); idempotent, so safe to retry."""
    with acting_as(name=actor or "lineage.import_dvc"):
        result = import_dvc(path, namespace, rev)
    return {
        "revision": result.revision,
        "events": result.events,
        "stored": result.stored,
        "stages": result.stages,
        "outputs": result.outputs,
    }


@shared_task(name="lineage.purge_events")
def purge_events_task(max_batches: int | None = None) -> dict:
    """Purge raw events older than ``GOVREG_LINEAGE_EVENT_RETENTION_DAYS`` (see
    ``lineage.retention``); idempotent, each batch its own transaction."""
    with acting_as(name="lineage.purge_events"):
        return purge_lineage_events(max_batches=max_batches).as_dict()


@shared_task(name="lineage.project_pending", acks_late=True, reject_on_worker_lost=True)
def project_pending_task() -> int:
    """Project the queued events (``lineage.queue``); nudged after each intake commit
    and run every minute by beat. Idempotent: a redelivered run finds the queue as the
    killed one left it (its batch rolled back)."""
    from lineage.queue import project_pending

    with acting_as(name="lineage.project_pending"):
        return project_pending()
