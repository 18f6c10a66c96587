from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify_records
from audit.models import AuditChainHead, AuditEvent


class Command(BaseCommand):
    help = "Walk the audit hash chain and report the first event that was tampered with."

    def handle(self, *args, **options):
        records = (event.as_record() for event in AuditEvent.objects.order_by("seq").iterator(2000))
        verified, bad_seq, reason = verify_records(records)
        if bad_seq is not None:
            raise CommandError(
                f"audit chain broken at sequence {bad_seq}: {reason} "
                f"({verified} verified before it)"
            )
        head = AuditChainHead.objects.filter(pk=1).first()
        if head is not None and head.last_seq != verified:
            raise CommandError(
                f"audit chain broken at sequence {verified + 1}: chain head records "
                f"{head.last_seq} events but {verified} remain (events removed from the end)"
            )
        self.stdout.write(f"verified {verified} audit events; chain intact")
