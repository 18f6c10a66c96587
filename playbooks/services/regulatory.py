"""The EU AI Act reporting clock, run hourly by beat: warn the owners of a serious
incident before its report is due, and escalate an overdue report through the
incident's playbook chain. Both are idempotent: ``deadline_warned_at`` and
``report_overdue_escalated_at`` are claimed by conditional UPDATEs that must change
one row, so a second run (or a racing worker) notifies nobody twice."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import notify
from audit.services import record_decision
from playbooks.choices import TimelineKind
from playbooks.models import Incident
from playbooks.models.incident import report_overdue_q
from playbooks.services.common import add_entry
from playbooks.services.escalation import escalate_report_overdue


def warning_window() -> timedelta:
    return timedelta(hours=settings.GOVREG_REGULATORY_WARNING_HOURS)


def warn_due(*, now=None) -> list[int]:
    """Mail the owning team of each serious incident whose report falls due within the
    warning window (once per deadline in force). A deadline already passed is not
    warned about: ``escalate_overdue`` takes it."""
    now = now or timezone.now()
    candidates = Incident.objects.filter(
        report_deadline__isnull=False,
        reported_at__isnull=True,
        not_reportable_at__isnull=True,
        deadline_warned_at__isnull=True,
        report_deadline__gte=now,
        report_deadline__lte=now + warning_window(),
    ).select_related("model__team")
    warned = []
    for incident in candidates:
        with transaction.atomic():
            claimed = Incident.objects.filter(
                pk=incident.pk,
                deadline_warned_at__isnull=True,
                reported_at__isnull=True,
                not_reportable_at__isnull=True,
            ).update(deadline_warned_at=now)
            if claimed != 1:
                continue
            hours = max(0, int((incident.report_deadline - now).total_seconds() // 3600))
            message = (
                f"The serious-incident report is due in {hours} h "
                f"({incident.report_deadline:%Y-%m-%d %H:%M} UTC)."
            )
            add_entry(incident, TimelineKind.REGULATORY, message, at=now)
            record_decision(
                "incident.deadline_warning",
                incident,
                deadline=incident.report_deadline,
                category=incident.serious_category,
                overdue=False,
            )
            notify.deliver_on_commit(
                notify.compose(
                    "playbooks/mail/deadline_warning",
                    {
                        "incident": incident,
                        "message": message,
                        "incident_url": notify.link("incident-detail", args=[incident.pk]),
                    },
                    notify.group_emails(incident.model.team),
                )
            )
            warned.append(incident.pk)
    return warned


def escalate_overdue(*, now=None) -> list[int]:
    """Escalate each incident whose report is overdue (``Incident.report_overdue``)
    through every level of its playbook's chain, once per incident: a timeline entry,
    an ``incident.report_overdue`` audit event, and one escalation row per level whose
    mail and webhook go out after the commit. Returns the incidents escalated now."""
    now = now or timezone.now()
    due = list(
        Incident.objects.filter(report_overdue_q(now), report_overdue_escalated_at__isnull=True)
        .order_by("report_deadline", "pk")
        .values_list("pk", flat=True)
    )
    escalated = []
    for pk in due:
        with transaction.atomic():
            claimed = Incident.objects.filter(
                report_overdue_q(now), pk=pk, report_overdue_escalated_at__isnull=True
            ).update(report_overdue_escalated_at=now)
            if claimed != 1:
                continue
            incident = Incident.objects.select_related("model__team", "playbook_version").get(pk=pk)
            escalations = escalate_report_overdue(incident, now=now)
            groups = [e.group_name for e in escalations]
            add_entry(
                incident,
                TimelineKind.REGULATORY,
                "The serious-incident report was due "
                f"{incident.report_deadline:%Y-%m-%d %H:%M} UTC and has not been recorded as "
                f"sent: overdue, escalated to {', '.join(groups)}.",
                at=now,
                data={"deadline": incident.report_deadline, "groups": groups},
            )
            record_decision(
                "incident.report_overdue",
                incident,
                deadline=incident.report_deadline,
                category=incident.serious_category,
                escalated_to=groups,
                escalated_at=now,
            )
            escalated.append(pk)
    return escalated
