"""python manage.py purge_lineage_events [--days N] [--batch-size N] [--max-batches N]"""

from django.core.management.base import BaseCommand, CommandError

from audit.context import acting_as
from lineage.retention import purge_lineage_events


class Command(BaseCommand):
    help = (
        "Delete raw OpenLineage events older than the retention (by event time), in "
        "bounded batches. Projections and the events of runs that governance records "
        "refer to (training runs, their provenance, referenced dataset versions) are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="retention in days (default: GOVREG_LINEAGE_EVENT_RETENTION_DAYS; 0 keeps all)",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="events per transaction (default: GOVREG_LINEAGE_PURGE_BATCH)",
        )
        parser.add_argument(
            "--max-batches", type=int, default=None, help="stop after this many batches"
        )

    def handle(self, days, batch_size, max_batches, **options):
        for name, value, low in (
            ("--days", days, 0),
            ("--batch-size", batch_size, 1),
            ("--max-batches", max_batches, 1),
        ):
            if value is not None and value < low:
                raise CommandError(f"{name} must be at least {low}")
        with acting_as(name="purge_lineage_events"):
            result = purge_lineage_events(days=days, batch_size=batch_size, max_batches=max_batches)
        if not result.retention_days:
            self.stdout.write("retention is off (0 days): nothing purged")
            return
        stopped = "" if result.finished else " (stopped by --max-batches)"
        self.stdout.write(
            f"purged {result.deleted} events older than {result.cutoff:%Y-%m-%d %H:%M} UTC "
            f"in {result.batches} batches; kept {result.kept} old events of the "
            f"{result.evidence_runs} evidence runs{stopped}"
        )
