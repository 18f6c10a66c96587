from django.db import models


class RiskTier(models.TextChoices):
    """The EU AI Act's risk classes."""

    MINIMAL = "minimal", "Minimal"
    LIMITED = "limited", "Limited"
    HIGH = "high", "High"
    UNACCEPTABLE = "unacceptable", "Unacceptable"
