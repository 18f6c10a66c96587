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
