"""python manage.py project_lineage [--retry-failed] [--max-batches N]"""

from django.core.management.base import BaseCommand

from audit.context import acting_as
from lineage.queue import project_pending, projection_gauges
from lineage.queue import retry_failed as retry_failed_events


class Command(BaseCommand):
    help = (
        "Project the OpenLineage events the intake queued (GOVREG_LINEAGE_PROJECTION=queued), "
        "oldest first; with --retry-failed, events whose projection failed are tried again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--retry-failed", action="store_true", help="queue failed events again first"
        )
        parser.add_argument("--max-batches", type=int, default=None, help="stop after N batches")

    def handle(self, retry_failed: bool, max_batches: int | None, **options):
        with acting_as(name="project_lineage"):
            retried = retry_failed_events() if retry_failed else 0
            projected = project_pending(max_batches=max_batches)
        left = projection_gauges()
        self.stdout.write(
            f"projected {projected} events ({retried} failed ones retried); "
            f"{left['pending']} queued, {left['failed']} failed"
        )
