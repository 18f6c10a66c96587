"""The EU AI Act reporting clock: warn the owners of a serious incident before its
report is due. Idempotent: ``deadline_warned_at`` is claimed by a conditional UPDATE."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import record_decision
from playbooks.choices import TimelineKind
from playbooks.models import Incident
from playbooks.services.common import add_entry
from playbooks.services.notify import group_emails, send


def warning_window() -> timedelta:
    return timedelta(hours=settings.GOVREG_REGULATORY_WARNING_HOURS)


def warn_due(*, now=None) -> list[int]:
    now = now or timezone.now()
    candidates = Incident.objects.filter(
        report_deadline__isnull=False,
        reported_at__isnull=True,
        deadline_warned_at__isnull=True,
        report_deadline__lte=now + warning_window(),
    ).select_related("model__team")
    warned = []
    for incident in candidates:
        with transaction.atomic():
            claimed = Incident.objects.filter(
                pk=incident.pk, deadline_warned_at__isnull=True, reported_at__isnull=True
            ).update(deadline_warned_at=now)
            if claimed != 1:
                continue
            left = incident.report_deadline - now
            hours = max(0, int(left.total_seconds() // 3600))
            overdue = left.total_seconds() < 0
            message = (
                "The serious-incident report was due "
                f"{incident.report_deadline:%Y-%m-%d %H:%M} UTC "
                "and has not been recorded as sent."
                if overdue
                else f"The serious-incident report is due in {hours} h "
                f"({incident.report_deadline:%Y-%m-%d %H:%M} UTC)."
            )
            add_entry(incident, TimelineKind.REGULATORY, message, at=now)
            record_decision(
                "incident.deadline_warning",
                incident,
                deadline=incident.report_deadline,
                category=incident.serious_category,
                overdue=overdue,
            )
            recipients = group_emails(incident.model.team)
            subject = f"[govreg] Regulatory report due: incident #{incident.pk} {incident.title}"
            transaction.on_commit(lambda s=subject, m=message, r=recipients: send(s, m, r))
            warned.append(incident.pk)
    return warned
