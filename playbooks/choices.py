from django.db import models


class StepKind(models.TextChoices):
    CONTAINMENT = "containment", "Containment"
    INVESTIGATION = "investigation", "Investigation"
    REMEDIATION = "remediation", "Remediation"
    COMMUNICATION = "communication", "Communication"


class SignalSource(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    API = "api", "Plain JSON signal"
    GRAFANA = "grafana", "Grafana alerting"
    WEBHOOK = "webhook", "Signed generic webhook"
    FEEDBACK = "feedback", "Feedback report"
    HEARTBEAT = "heartbeat", "Monitor heartbeat (govreg)"
    MLFLOW = "mlflow", "MLflow registry sync"


class SignalKind(models.TextChoices):
    """What a signal is about: a metric reading (the default), a monitor that stopped
    reporting, a report from a person, or a model promoted around the gate."""

    METRIC = "metric", "Metric reading"
    MONITOR_SILENT = "monitor-silent", "Monitor silent"
    FEEDBACK = "feedback", "Feedback"
    UNGOVERNED_DEPLOYMENT = "ungoverned-deployment", "Ungoverned deployment"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class Triage(models.TextChoices):
    """What a signal meant. ``received``: stored, triage still to come; ``unlinked``:
    its labels name no model the sender may see."""

    RECEIVED = "received", "Received (waiting for triage)"
    UNLINKED = "unlinked", "Unlinked (waiting to be mapped)"
    BENIGN = "benign", "Benign (recorded only)"
    QUESTIONABLE = "questionable", "Questionable (investigation task)"
    CRITICAL = "critical", "Critical (incident)"
    RESOLVED = "resolved", "Resolved notification"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    CONTAINED = "contained", "Contained"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# Where each status may go next (services enforce it under a row lock).
INCIDENT_TRANSITIONS = {
    IncidentStatus.OPEN: {IncidentStatus.ACKNOWLEDGED, IncidentStatus.CONTAINED},
    IncidentStatus.ACKNOWLEDGED: {IncidentStatus.CONTAINED},
    IncidentStatus.CONTAINED: {IncidentStatus.RESOLVED},
    IncidentStatus.RESOLVED: {IncidentStatus.CLOSED},
    IncidentStatus.CLOSED: set(),
}
ACTIVE_STATUSES = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.CONTAINED)
UNCONTAINED_STATUSES = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


class SeriousCategory(models.TextChoices):
    """EU AI Act Art. 73 serious-incident cases and their reporting periods."""

    NONE = "", "Not a serious incident"
    SERIOUS = "serious", "Serious incident (15 days)"
    DEATH = "death", "Death of a person (10 days)"
    WIDESPREAD = "widespread", "Widespread infringement (2 days)"
    CRITICAL_INFRASTRUCTURE = "critical-infrastructure", "Critical infrastructure (2 days)"


REPORTING_DAYS = {
    SeriousCategory.SERIOUS: 15,
    SeriousCategory.DEATH: 10,
    SeriousCategory.WIDESPREAD: 2,
    SeriousCategory.CRITICAL_INFRASTRUCTURE: 2,
}


class TimelineKind(models.TextChoices):
    SIGNAL = "signal", "Signal"
    STATUS = "status", "Status change"
    STEP = "step", "Playbook step"
    COMMENT = "comment", "Comment"
    ESCALATION = "escalation", "Escalation"
    REGULATORY = "regulatory", "Regulatory clock"
    ROLLBACK = "rollback", "Rollback request"


class EscalationReason(models.TextChoices):
    """Why a level of the chain was notified."""

    UNACKNOWLEDGED = "unacknowledged", "Not acknowledged in time"
    REPORT_OVERDUE = "report-overdue", "Serious-incident report overdue"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class DrillStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    COMPLETED = "completed", "Completed"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in-progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class WebhookState(models.TextChoices):
    NOT_CONFIGURED = "not-configured", "No webhook configured"
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class FeedbackCategory(models.TextChoices):
    """What a person reports about a model in use."""

    CONCERN = "concern", "A concern about its behaviour"
    BUG = "bug", "A bug report"
    FEATURE_REQUEST = "feature-request", "A feature request"


class FeedbackChannel(models.TextChoices):
    """How a report arrived: an operator's or integrated product's token, or the public
    form on the model's public card."""

    API = "api", "API (operator or product)"
    PUBLIC_FORM = "public-form", "Public card form"


class FeedbackStatus(models.TextChoices):
    """Where a report stands, as its reporter reads it on the status page."""

    RECEIVED = "received", "Received"
    UNDER_REVIEW = "under-review", "Under review"
    ANSWERED = "answered", "Answered"
    CLOSED = "closed", "Closed"


class NoticeStatus(models.TextChoices):
    """An incident's public notice: drafted by the team, shown on the model's public
    card once published, taken down when withdrawn."""

    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"
