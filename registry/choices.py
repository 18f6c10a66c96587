from django.db import models


class RiskTier(models.TextChoices):
    """The EU AI Act's risk classes."""

    MINIMAL = "minimal", "Minimal"
    LIMITED = "limited", "Limited"
    HIGH = "high", "High"
    UNACCEPTABLE = "unacceptable", "Unacceptable"


class ModelVersionStatus(models.TextChoices):
    """A version's life: registered by a pipeline, validated by its evaluations,
    deprecated when a better one exists, retired when it may never serve again."""

    REGISTERED = "registered", "Registered"
    VALIDATED = "validated", "Validated"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


class DeploymentState(models.TextChoices):
    LIVE = "live", "Live"
    SUPERSEDED = "superseded", "Superseded"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FAILED = "failed", "Failed"


class DefinitionKind(models.TextChoices):
    EXPRESSION = "expression", "Expression (SQL or DSL)"
    CODE = "code", "Code reference (repository path and commit)"


class DecisionAction(models.TextChoices):
    """Acts a decision right governs. Deploy is scoped by environment; the others by model."""

    DEPLOY = "deploy", "Deploy"
    ACCEPT_RISK = "accept-risk", "Accept a risk"
    CLOSE_INCIDENT = "close-incident", "Close an incident"
    ROLLBACK = "rollback", "Roll back"
    CHANGE_REPORT_DEADLINE = "change-report-deadline", "Move or lift an incident's report deadline"
    PUBLISH_CARD = "publish-card", "Publish a model's public card"


class RequestStatus(models.TextChoices):
    """The gate's answer to a deployment request. Superseded: the requester asked
    again explicitly for a new request while this one was open; it is closed."""

    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    SUPERSEDED = "superseded", "Superseded"


class RequestKind(models.TextChoices):
    """What a deployment request asks: ship a version, or put back a version that was
    approved and live in that environment before (incident response)."""

    DEPLOY = "deploy", "Deploy"
    ROLLBACK = "rollback", "Rollback"


class RequestOutcome(models.TextChoices):
    """What the pipeline reported after an approved request."""

    NONE = "", "Not reported"
    DEPLOYED = "deployed", "Deployed"
    FAILED = "failed", "Failed"


class Verdict(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class CardStatus(models.TextChoices):
    """A model's public card: never asked for, waiting for the publish-card decision,
    public at /cards/<model>, or taken down."""

    DRAFT = "draft", "Draft (not public)"
    PENDING = "pending", "Waiting for approval"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"
