from django.db import models
from knox.models import AbstractAuthToken


class ApiToken(AbstractAuthToken):
    """A bearer token for a person or a pipeline. Only its SHA-512 digest is stored.

    The plaintext is shown once, when the token is created. ``read_only``
    tokens may only use safe methods (GET, HEAD, OPTIONS).
    """

    name = models.CharField(max_length=100, blank=True)
    read_only = models.BooleanField(default=False)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created"]

    def __str__(self):
        return f"{self.name or 'token'} ({self.token_key}…) of {self.user}"
