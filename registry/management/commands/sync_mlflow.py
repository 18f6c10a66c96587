"""python manage.py sync_mlflow [--model NAME ...] [--tracking-uri URI]"""

from django.core.management.base import BaseCommand, CommandError

from audit.context import acting_as
from registry.mlflow_sync import MLflowSyncError, sync


class Command(BaseCommand):
    help = (
        "Import registered models, versions and aliases from the MLflow tracking server "
        "(GOVREG_MLFLOW_TRACKING_URI). Running it again on the same MLflow state changes "
        "nothing; an alias that moved to a version govreg has not approved for its "
        "environment raises a critical ungoverned-deployment signal."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--model", action="append", dest="models", help="only this registered model"
        )
        parser.add_argument("--tracking-uri", help="default: GOVREG_MLFLOW_TRACKING_URI")

    def handle(self, models=None, tracking_uri=None, **options):
        try:
            with acting_as(name="manage.py sync_mlflow"):
                report = sync(models, tracking_uri=tracking_uri)
        except MLflowSyncError as exc:
            raise CommandError(str(exc))
        for outcome in report.models:
            self.stdout.write(outcome.line())
        summary = report.as_dict()
        self.stdout.write(
            f"{summary['models']} registered models from {report.tracking_uri}: "
            f"{summary['changed']} changed, {summary['skipped']} not imported, "
            f"{summary['ungoverned']} ungoverned deployments"
        )
        if report.stopped:
            raise CommandError(
                f"{report.stopped} (the {len(report.models)} models read before it are kept; "
                "run again when MLflow answers)"
            )
