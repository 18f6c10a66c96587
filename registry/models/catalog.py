from django.contrib.auth.models import Group
from django.db import models

from registry.choices import RiskTier

__all__ = ["MLModel"]


class MLModel(models.Model):
    """A model the board governs, owned by one team, with its model card as named fields."""

    CARD_FIELDS = (
        "intended_use",
        "out_of_scope_uses",
        "known_limitations",
        "capabilities",
        "ethical_considerations",
        "human_oversight",
        "contact",
    )

    name = models.SlugField(max_length=100, unique=True)
    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="ml_models")
    risk_tier = models.CharField(max_length=16, choices=RiskTier.choices)
    description = models.TextField()
    intended_use = models.TextField(blank=True)
    out_of_scope_uses = models.TextField(blank=True)
    known_limitations = models.TextField(blank=True)
    capabilities = models.TextField(blank=True)
    ethical_considerations = models.TextField(blank=True)
    human_oversight = models.TextField("human oversight measures", blank=True)
    contact = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "ML model"
        permissions = [("approve_mlmodel", "Can approve deployments of this ML model")]

    def __str__(self):
        return self.name

    @property
    def card_missing(self) -> list[str]:
        return [name for name in self.CARD_FIELDS if not str(getattr(self, name)).strip()]

    @property
    def card_complete(self) -> bool:
        return not self.card_missing
