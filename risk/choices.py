from django.db import models


class RiskLevel(models.TextChoices):
    """Levels of a risk-matrix cell, lowest first (the order is the severity)."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"

    @classmethod
    def rank(cls, value: str) -> int:
        """1 for low ... 4 for critical; used to compare a level with an appetite."""
        return cls.values.index(value) + 1

    @classmethod
    def above(cls, value: str) -> list[str]:
        """The levels strictly more severe than ``value``."""
        return cls.values[cls.values.index(value) + 1 :]


class RiskCategory(models.TextChoices):
    EMERGENT_BEHAVIOUR = "emergent-behaviour", "Emergent behaviour"
    DATA_DRIFT = "data-drift", "Data drift"
    CONCEPT_DRIFT = "concept-drift", "Concept drift"
    BIAS_FAIRNESS = "bias-fairness", "Bias and fairness"
    PRIVACY = "privacy", "Privacy"
    SECURITY = "security", "Security"
    ROBUSTNESS = "robustness", "Robustness"
    MISUSE = "misuse", "Misuse"
    TRANSPARENCY = "transparency", "Transparency"
    OTHER = "other", "Other"


class Treatment(models.TextChoices):
    """How the owner answers a risk (ISO 31000's options, plus "open": not decided yet)."""

    OPEN = "open", "Open (not decided)"
    MITIGATE = "mitigate", "Mitigate"
    ACCEPT = "accept", "Accept"
    AVOID = "avoid", "Avoid"
    TRANSFER = "transfer", "Transfer"


class RiskStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    CLOSED = "closed", "Closed"


class ControlStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IMPLEMENTED = "implemented", "Implemented"
    VERIFIED = "verified", "Verified"


class AcceptanceStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class Comparator(models.TextChoices):
    """How a metric value is compared with a threshold: "gt" means above is bad."""

    GT = "gt", "above (>)"
    GTE = "gte", "at or above (>=)"
    LT = "lt", "below (<)"
    LTE = "lte", "at or below (<=)"


# Words people write in configuration files, mapped to the comparators above.
COMPARATOR_ALIASES = {"above": Comparator.GT, "below": Comparator.LT}


class Classification(models.TextChoices):
    """What one observed metric value means against a threshold (used by triage)."""

    BENIGN = "benign", "Benign"
    QUESTIONABLE = "questionable", "Questionable"
    CRITICAL = "critical", "Critical"


class EvaluationKind(models.TextChoices):
    ADVERSARIAL = "adversarial", "Adversarial"
    EDGE_CASE = "edge-case", "Edge case"
    DISTRIBUTIONAL_STRESS = "distributional-stress", "Distributional stress"
    SCENARIO = "scenario", "Scenario"
    RED_TEAM = "red-team", "Red team"
    HUMAN_REVIEW = "human-review", "Human review"
    PRIVACY_REVIEW = "privacy-review", "Privacy review"


class EvaluationOutcome(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"
    SKIPPED = "skipped", "Skipped"


class ReviewState(models.TextChoices):
    """Where a risk stands against its next review date (the ?review= filter)."""

    DUE = "due", "Due soon"
    OVERDUE = "overdue", "Overdue"


class ReminderKind(models.TextChoices):
    REVIEW_DUE = "review-due", "Review due"
    REVIEW_OVERDUE = "review-overdue", "Review overdue"
    ACCEPTANCE_EXPIRING = "acceptance-expiring", "Acceptance about to expire"
    ACCEPTANCE_EXPIRED = "acceptance-expired", "Acceptance expired"


class ExerciseStatus(models.TextChoices):
    """Where a red-team exercise stands; completed and cancelled are final."""

    PLANNED = "planned", "Planned"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


# The moves an exercise's status may make (a final status moves nowhere).
EXERCISE_TRANSITIONS = {
    ExerciseStatus.PLANNED: (ExerciseStatus.RUNNING, ExerciseStatus.CANCELLED),
    ExerciseStatus.RUNNING: (ExerciseStatus.COMPLETED, ExerciseStatus.CANCELLED),
    ExerciseStatus.COMPLETED: (),
    ExerciseStatus.CANCELLED: (),
}


class FindingSeverity(models.TextChoices):
    """How bad a red-team finding is, lowest first; high and critical block the gate."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


BLOCKING_SEVERITIES = (FindingSeverity.HIGH, FindingSeverity.CRITICAL)


class FindingStatus(models.TextChoices):
    """Open until its red-team evaluation passes (fixed) or its risk is accepted."""

    OPEN = "open", "Open"
    FIXED = "fixed", "Fixed"
    ACCEPTED = "accepted", "Accepted"
