"""Feedback reports: what operators, integrated products and the public say about a
model in use. A report is stored with the version that served in its environment at
that moment (the deployment history, not the reporter's word) and enters triage as a
signal of kind ``feedback``: questionable by default (an investigation task), critical
when a keyword of ``GOVREG_FEEDBACK_CRITICAL_KEYWORDS`` appears or an operator flags it
(it opens or joins an incident like any critical signal). The reporter gets a reference
and a status URL holding a random token; only the token's SHA-256 is kept."""

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import record_decision
from config.errors import Conflict
from playbooks.choices import FeedbackChannel, FeedbackStatus, SignalKind, SignalSource
from playbooks.models import FeedbackReport
from playbooks.services import triage
from playbooks.services.common import Trail
from playbooks.services.linking import Links, SignalInput
from registry.cards import serving_deployment

__all__ = [
    "Submitted",
    "critical_keyword",
    "report_for_token",
    "reply",
    "set_status",
    "submit",
    "token_hash",
]


@dataclass
class Submitted:
    report: FeedbackReport
    token: str  # given to the reporter once; never stored


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def report_for_token(token: str) -> FeedbackReport | None:
    """The report a status URL's token opens, or None."""
    if not token or len(token) > 200:
        return None
    return (
        FeedbackReport.objects.select_related("model")
        .filter(status_token_hash=token_hash(token))
        .first()
    )


def critical_keyword(text: str) -> str | None:
    """The first critical keyword (``GOVREG_FEEDBACK_CRITICAL_KEYWORDS``) in ``text``."""
    folded = text.casefold()
    return next(
        (word for word in settings.GOVREG_FEEDBACK_CRITICAL_KEYWORDS if word in folded), None
    )


def _triage_rule(text: str, flagged: bool) -> tuple[str, str]:
    """``(severity label, reason)`` of a report for triage."""
    if flagged:
        return "critical", "flagged critical by the operator who sent it"
    word = critical_keyword(text)
    if word is not None:
        return "critical", f"keyword {word!r} (GOVREG_FEEDBACK_CRITICAL_KEYWORDS)"
    return "warning", "a report to look into (no critical keyword, not flagged)"


def submit(
    model,
    environment,
    *,
    text: str,
    category: str,
    channel: str,
    user=None,
    flagged: bool = False,
    now=None,
) -> Submitted:
    """Store a report and triage it as a feedback signal, in one transaction."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    deployment = serving_deployment(model, environment, at=now)
    signed_in = getattr(user, "is_authenticated", False)
    with transaction.atomic():
        report = FeedbackReport(
            model=model,
            environment=environment,
            model_version=deployment.model_version if deployment else None,
            deployment=deployment,
            category=category,
            channel=channel,
            text=text,
            flagged_critical=bool(flagged) and channel == FeedbackChannel.API,
            submitted_by=user if signed_in else None,
            status_token_hash=token_hash(token),
            received_at=now,
        )
        report.full_clean()
        report.save()
        severity, rule = _triage_rule(text, report.flagged_critical)
        trail = Trail()
        signal = triage.raise_signal(
            SignalInput(
                source=SignalSource.FEEDBACK,
                kind=SignalKind.FEEDBACK,
                sender=user.get_username() if signed_in else "public form",
                labels={"alertname": "feedback", "severity": severity, "category": category},
                annotations={
                    "summary": f"Feedback {report.reference} ({category}): {text[:500]}",
                    "triage_rule": rule,
                    "feedback": report.reference,
                },
                fingerprint=report.reference,
                observed_at=now,
                payload={"feedback_report": report.pk, "channel": channel},
                model_name=model.name,
                version_name=report.model_version.version if report.model_version else "",
                environment_name=environment.name,
                deployment_id=deployment.pk if deployment else None,
            ),
            Links(
                model=model,
                model_version=report.model_version,
                environment=environment,
                deployment=deployment,
            ),
            now=now,
            trail=trail,
        )
        trail.write()
        report.signal = signal
        report.save(update_fields=["signal", "updated_at"])
    return Submitted(report, token)


def reply(report: FeedbackReport, user, *, text: str, status: str = "", now=None):
    """The team's public answer, shown on the reporter's status page; the report is
    ``answered`` unless another status is given."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"reply": "Write the reply the reporter will read."})
    with transaction.atomic():
        locked = FeedbackReport.objects.select_for_update().get(pk=report.pk)
        locked.public_reply = text
        locked.replied_at = now or timezone.now()
        locked.replied_by = user
        locked.status = status or FeedbackStatus.ANSWERED
        locked.save(
            update_fields=["public_reply", "replied_at", "replied_by", "status", "updated_at"]
        )
        record_decision("feedback.reply", locked, status=locked.status, reply=text)
    return locked


def set_status(report: FeedbackReport, user, *, status: str):
    """Move the report to ``status`` (what the reporter reads); a closed report stays closed."""
    with transaction.atomic():
        locked = FeedbackReport.objects.select_for_update().get(pk=report.pk)
        if locked.status == FeedbackStatus.CLOSED and status != FeedbackStatus.CLOSED:
            raise Conflict("This report is closed.", field="status")
        before = locked.status
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        record_decision("feedback.status", locked, before=before, status=status)
    return locked
