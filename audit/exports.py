"""Exports of a period of the audit trail: asked for, built by a task, downloaded.

``request_export`` records the ask (an audit event, so the export is itself in
the trail it exports) and queues ``audit.run_export``; the task streams the
events into a signed bundle (``audit.bundles.write_bundle``), reporting
progress on the ``AuditExport`` row, and keeps the file in the export storage
(``GOVREG_AUDIT_EXPORT_DIR``) for ``GET /api/audit-exports/{id}/download``.
"""

import logging
import tempfile

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.utils import timezone

from audit.bundles import write_bundle
from audit.models import AuditEvent, AuditExport
from audit.services import record
from config.errors import Conflict

logger = logging.getLogger(__name__)
PROGRESS_EVERY = 20000


def storage() -> FileSystemStorage:
    return FileSystemStorage(location=settings.GOVREG_AUDIT_EXPORT_DIR)


def events_of(export: AuditExport):
    events = AuditEvent.objects.filter(created_at__gte=export.after, created_at__lt=export.before)
    if export.object_type:
        events = events.filter(object_type=export.object_type)
    if export.object_id:
        events = events.filter(object_id=export.object_id)
    return events


def request_export(export: AuditExport, user) -> AuditExport:
    """Save a validated, unsaved ``export`` asked for by ``user`` and queue its task."""
    from audit.tasks import run_export

    export.requested_by_id = user.pk
    export.requested_by = user.get_username()[:150]
    export.created_at = timezone.now()
    export.save(force_insert=True)
    record(
        "audit.export",
        obj=export,
        after={
            "after": export.after.isoformat(),
            "before": export.before.isoformat(),
            "object_type": export.object_type,
            "object_id": export.object_id,
        },
    )
    transaction.on_commit(lambda: run_export.delay(export.pk))
    return export


def run(export_id: int) -> AuditExport:
    """Build the bundle of export ``export_id`` (the task's body). Idempotent: a finished
    export is left as it is; one interrupted half-way is built again from the start."""
    export = AuditExport.objects.get(pk=export_id)
    if export.status == AuditExport.Status.DONE:
        return export
    total = events_of(export).count()
    AuditExport.objects.filter(pk=export.pk).update(
        status=AuditExport.Status.RUNNING,
        started_at=timezone.now(),
        total=total,
        events=0,
        percent=0,
        error="",
    )

    def progress(count: int) -> None:
        if count % PROGRESS_EVERY == 0 or count == total:
            percent = 99 if not total else min(99, count * 100 // total)
            AuditExport.objects.filter(pk=export.pk).update(events=count, percent=percent)

    name = f"audit-export-{export.pk}.zip"
    store = storage()
    try:
        with tempfile.TemporaryFile() as handle:
            stated = write_bundle(
                handle,
                [],
                kind="audit-export",
                events=events_of(export),
                predicate={
                    "export": {
                        "id": export.pk,
                        "after": export.after.isoformat(),
                        "before": export.before.isoformat(),
                        "object_type": export.object_type,
                        "object_id": export.object_id,
                        "requested_by": export.requested_by,
                    }
                },
                progress=progress,
            )
            size = handle.tell()
            handle.seek(0)
            digest = _sha256(handle)
            handle.seek(0)
            if store.exists(name):
                store.delete(name)
            saved = store.save(name, File(handle))
    except Exception as exc:
        AuditExport.objects.filter(pk=export.pk).update(
            status=AuditExport.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    count = (stated.get("events") or {}).get("count", 0)
    AuditExport.objects.filter(pk=export.pk).update(
        status=AuditExport.Status.DONE,
        finished_at=timezone.now(),
        events=count,
        percent=100,
        tree_size=stated["tree_size"],
        file=saved,
        size=size,
        sha256=digest,
    )
    export.refresh_from_db()
    return export


def _sha256(handle) -> str:
    import hashlib

    digest = hashlib.sha256()
    while chunk := handle.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def open_download(export: AuditExport):
    """The finished bundle's file, opened for reading; records who downloaded it."""
    if export.status != AuditExport.Status.DONE or not export.file:
        raise Conflict(f"export #{export.pk} is {export.status}, not done yet", field="status")
    handle = storage().open(export.file, "rb")
    record("audit.export.download", obj=export, after={"sha256": export.sha256})
    return handle
