from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit import keys
from audit.context import acting_as
from audit.exceptions import TrailTampered
from audit.services import record, sign_checkpoint


class Command(BaseCommand):
    help = (
        "Retire the audit signing key and start a new one: sign a last checkpoint with the "
        "old key, write a new PEM key in place of the configured key file (or to --key-file), "
        "keep the old public key listed so what it signed still verifies, and sign with the "
        "new key."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--key-file",
            metavar="FILE",
            help="write the new private key here (required when GOVREG_AUDIT_SIGNING_KEY holds"
            " the key itself); then point GOVREG_SIGNING_KEY_FILE at it",
        )

    def handle(self, *args, **options):
        target = Path(options["key_file"]).expanduser() if options["key_file"] else None
        try:
            with acting_as(name="manage.py rotate_signing_key"):
                sign_checkpoint()  # the old key's last word over the trail as it stands
                with transaction.atomic():
                    old, new, path = keys.rotate(target)
                    record(
                        "audit.signing_key.rotate",
                        object_type="audit.auditsigningkey",
                        object_id=new.key_id,
                        before={"key_id": old.key_id},
                        after={"key_id": new.key_id, "origin": new.origin},
                    )
                checkpoint = None if target else sign_checkpoint()
        except (ImproperlyConfigured, TrailTampered, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"retired key {old.key_id}; new key {new.key_id} written to {path}")
        if checkpoint is not None:
            self.stdout.write(
                f"signed the checkpoint of {checkpoint.tree_size} events with key {new.key_id}"
            )
        else:
            self.stdout.write(
                f"point GOVREG_SIGNING_KEY_FILE at {path} (and unset GOVREG_AUDIT_SIGNING_KEY"
                " if it holds the old key); the next checkpoint is signed with the new key"
            )
