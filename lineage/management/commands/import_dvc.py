"""python manage.py import_dvc PATH [--namespace NS] [--rev REV]"""

from django.core.management.base import BaseCommand, CommandError

from audit.context import acting_as
from lineage.dvc_import import DvcImportError, import_dvc


class Command(BaseCommand):
    help = (
        "Import a DVC repository: tracked outputs become dataset versions (by md5), "
        "pipeline stages become jobs with runs. Importing the same revision twice changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="path of the DVC repository (its git root)")
        parser.add_argument("--namespace", default="dvc", help="OpenLineage namespace (dvc)")
        parser.add_argument("--rev", default=None, help="git revision (default: the workspace)")

    def handle(self, path, namespace, rev, **options):
        try:
            with acting_as(name="import_dvc"):
                result = import_dvc(path, namespace, rev)
        except DvcImportError as exc:
            raise CommandError(str(exc))
        self.stdout.write(
            f"imported {path} at {result.revision or 'workspace'}: {result.events} events, "
            f"{result.stored} new, {len(result.stages)} stages, {len(result.outputs)} outputs"
        )
