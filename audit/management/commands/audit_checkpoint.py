from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from audit.exceptions import TrailTampered
from audit.services import sign_checkpoint


class Command(BaseCommand):
    help = (
        "Sign a Merkle checkpoint over the audit trail as it stands now (beat does it hourly) "
        "and print it as a signed note; keep a copy outside the database."
    )

    def handle(self, *args, **options):
        try:
            checkpoint = sign_checkpoint()
        except (ImproperlyConfigured, TrailTampered) as exc:
            raise CommandError(str(exc)) from None
        if checkpoint is None:
            self.stderr.write("the audit trail is empty: nothing to sign yet")
            return
        self.stdout.write(checkpoint.note(), ending="")
