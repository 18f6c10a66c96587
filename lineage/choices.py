from django.db import models


class VersionStatus(models.TextChoices):
    """Whether a dataset version may still be used to train or serve models."""

    ACTIVE = "active", "Active"
    QUARANTINED = "quarantined", "Quarantined"
    REVOKED = "revoked", "Revoked (e.g. consent withdrawn)"


class RunState(models.TextChoices):
    """OpenLineage run event types, kept as the run's state (``NEW``: known only by
    reference, e.g. as a parent, or from an OTHER event)."""

    NEW = "NEW", "New"
    START = "START", "Started"
    RUNNING = "RUNNING", "Running"
    COMPLETE = "COMPLETE", "Completed"
    FAIL = "FAIL", "Failed"
    ABORT = "ABORT", "Aborted"
    OTHER = "OTHER", "Other"


TERMINAL_RUN_STATES = frozenset({RunState.COMPLETE, RunState.FAIL, RunState.ABORT})

# The run states of Marquez's API (and of every client of it), from the stored event names.
MARQUEZ_RUN_STATE = {
    RunState.NEW: "NEW",
    RunState.START: "RUNNING",
    RunState.RUNNING: "RUNNING",
    RunState.COMPLETE: "COMPLETED",
    RunState.FAIL: "FAILED",
    RunState.ABORT: "ABORTED",
    RunState.OTHER: "NEW",
}


class EventKind(models.TextChoices):
    """The three OpenLineage event kinds, read from the last segment of ``schemaURL``."""

    RUN = "RunEvent", "Run event"
    DATASET = "DatasetEvent", "Dataset event"
    JOB = "JobEvent", "Job event"
