"""Celery tasks of the lineage app."""

from celery import shared_task

from audit.context import acting_as
from lineage.dvc_import import import_dvc


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
