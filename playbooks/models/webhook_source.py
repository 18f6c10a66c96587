from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

__all__ = ["WebhookSource"]


class WebhookSource(models.Model):
    """A monitoring product allowed to send signed signals (``POST
    /api/signals/webhook/{name}``): any drift or quality monitor that can sign a JSON
    body with HMAC-SHA256.

    The secret must be usable to check a signature, so it cannot be stored as a
    one-way hash: it is kept encrypted (Fernet, with a key derived from SECRET_KEY;
    see ``playbooks.services.webhook_sources``), shown once when the source is created
    or its secret rotated, and never answered again. The source signs in as its own
    service account (``sender``), a member of the source's team only, so what it sends
    links to that team's models and nothing else."""

    name = models.SlugField(max_length=100, unique=True)
    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="webhook_sources")
    description = models.CharField(max_length=300, blank=True)
    secret_encrypted = models.TextField(editable=False)
    sender = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        editable=False,
        related_name="webhook_source",
        help_text="The service account the source's signals are triaged as.",
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "signed webhook source"

    def __str__(self):
        return self.name
