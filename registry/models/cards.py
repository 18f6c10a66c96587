"""A model's public card: which fields of its model card the owning team asks to show
the public, the publish-card decision on it, and the text as it was approved.

The public page (``/cards/<model>``) reads ``published_fields``, the text frozen when
the publication was approved, never the model's live card: a later edit of the card
is not public until it is asked for and approved again."""

from django.conf import settings
from django.db import models

from registry.choices import CardStatus

__all__ = ["PUBLIC_CARD_FIELDS", "PublicCard"]

# The card fields a team may mark publishable, in the order the public page shows them.
PUBLIC_CARD_FIELDS = ("intended_use", "out_of_scope_uses", "capabilities", "known_limitations")


class PublicCard(models.Model):
    """The publication of one model's card. ``publish_<field>`` flags say what the team
    asked to publish; ``requested_fields`` is that text as asked, ``published_fields``
    the text in force on the public page (both ``{field: text}``). ``approvals`` lists
    the publish-card decisions taken on the open request
    (``{"approver_id", "approver", "roles", "created_at"}``)."""

    model = models.OneToOneField(
        "registry.MLModel", on_delete=models.CASCADE, related_name="public_card"
    )
    publish_intended_use = models.BooleanField(default=False)
    publish_out_of_scope_uses = models.BooleanField(default=False)
    publish_capabilities = models.BooleanField(default=False)
    publish_known_limitations = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=CardStatus.choices, default=CardStatus.DRAFT)
    requested_fields = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(null=True, blank=True)
    approvals = models.JSONField(default=list, blank=True)
    published_fields = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model__name"]

    def __str__(self):
        return f"public card of {self.model} ({self.status})"

    @property
    def flagged_fields(self) -> list[str]:
        return [name for name in PUBLIC_CARD_FIELDS if getattr(self, f"publish_{name}")]

    @property
    def is_public(self) -> bool:
        """Whether ``/cards/<model>`` answers: published once, and not taken down since
        (a pending change of a published card keeps the approved text public)."""
        return self.published_at is not None and self.withdrawn_at is None
