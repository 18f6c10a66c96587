from django.conf import settings
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


class SsoIdentity(models.Model):
    """The person at the identity provider a govreg account signs in as (single
    sign-on, accounts/oidc.py): matched by issuer and subject, never by e-mail, so an
    account at the provider cannot take over a local one that shares its address."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "single sign-on identity"
        verbose_name_plural = "single sign-on identities"
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"],
                name="%(app_label)s_%(class)s_unique_subject",
                violation_error_message="This identity is already linked to an account.",
            )
        ]

    def __str__(self):
        return f"{self.subject} at {self.issuer} ({self.user})"


class SsoGrant(models.Model):
    """A membership (role or team group) that single sign-on gave a user, and the
    provider groups it came from. Only these are taken away again when the provider
    stops listing the groups; memberships an administrator gave stay."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_grants"
    )
    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, related_name="+")
    claims = models.JSONField(default=list, help_text="The provider groups that grant it.")
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "single sign-on grant"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "group"],
                name="%(app_label)s_%(class)s_unique_membership",
                violation_error_message="This membership is already recorded.",
            )
        ]

    def __str__(self):
        return f"{self.user} in {self.group} (from {', '.join(self.claims)})"
