from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.signing import verification_key
from audit.verify import verify_trail
from govreg_verify.checkpoint import CheckpointError


class Command(BaseCommand):
    help = (
        "Walk the audit hash chain, report the first event that was tampered with, and check "
        "that the trail still extends every signed checkpoint."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--public-key",
            metavar="FILE",
            help="PEM public key to check signatures with (default: the configured signing key)",
        )
        parser.add_argument(
            "--checkpoint",
            metavar="FILE",
            action="append",
            default=[],
            help="a signed checkpoint kept outside the database that the trail must extend "
            "(repeatable)",
        )

    def handle(self, *args, **options):
        try:
            public_pem = Path(options["public_key"]).read_bytes() if options["public_key"] else None
            notes = tuple(Path(name).read_text() for name in options["checkpoint"])
            public_key = verification_key(public_pem)
        except (OSError, CheckpointError) as exc:
            raise CommandError(str(exc)) from None
        report = verify_trail(public_key=public_key, external_notes=notes)
        if not report.intact:
            raise CommandError(report.message)
        summary = f"verified {report.verified} audit events; chain intact"
        if report.checkpoint is None:
            summary += "; no signed checkpoint yet"
        else:
            summary += (
                f"; extends the signed checkpoint of {report.checkpoint.tree_size} events"
                f" (key {report.checkpoint_key_id})"
            )
        self.stdout.write(summary)
