"""Single sign-on settings (OpenID Connect), read from the GOVREG_OIDC_* variables.

Off unless ``GOVREG_OIDC_CLIENT_ID`` is set; once it is, every other variable the
sign-in needs must be set too, and the group mapping must parse and name only
roles govreg has, or start-up stops naming the variable. The result is one frozen
``OidcConfig`` (``settings.GOVREG_OIDC``, ``None`` when off) and the ``OIDC_*``
settings mozilla-django-oidc reads (``OidcConfig.library_settings``).
"""

import json
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_str, env_url

# The role names of accounts/roles.py (config sits below accounts and cannot import it);
# tests/accounts/test_oidc.py checks the two agree.
ROLE_NAMES = frozenset({"board", "approver", "ml-engineer", "auditor", "pipeline", "admin"})
SIGN_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")


@dataclass(frozen=True)
class GroupGrant:
    """What one group of the identity provider gives in govreg."""

    roles: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()


@dataclass(frozen=True)
class OidcConfig:
    provider_name: str
    client_id: str
    client_secret: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_endpoint: str
    sign_algorithm: str = "RS256"
    scopes: str = "openid email profile groups"
    groups_claim: str = "groups"
    username_claim: str = "preferred_username"
    group_map: dict[str, GroupGrant] = field(default_factory=dict)
    allow_admin: bool = False
    timeout_seconds: int = 10

    def library_settings(self) -> dict[str, object]:
        """The settings mozilla-django-oidc reads, under its own names."""
        return {
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": self.authorization_endpoint,
            "OIDC_OP_TOKEN_ENDPOINT": self.token_endpoint,
            "OIDC_OP_USER_ENDPOINT": self.userinfo_endpoint,
            "OIDC_OP_JWKS_ENDPOINT": self.jwks_endpoint,
            "OIDC_RP_SIGN_ALGO": self.sign_algorithm,
            "OIDC_RP_SCOPES": self.scopes,
            "OIDC_USE_PKCE": True,
            "OIDC_TIMEOUT": self.timeout_seconds,
            "OIDC_AUTHENTICATION_CALLBACK_URL": "oidc-callback",
            # where the library sends a failed callback: govreg's views answer failures
            # themselves (accounts/oidc.py), so this is only its last resort
            "LOGIN_REDIRECT_URL_FAILURE": "/login/",
        }


def parse_group_map(name: str, text: str, *, allow_admin: bool) -> dict[str, GroupGrant]:
    """``{"idp-group": {"roles": [...], "teams": [...]}}``; anything else stops start-up."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {exc}") from None
    if not isinstance(raw, dict) or not raw:
        raise ImproperlyConfigured(
            f'{name} must be a non-empty JSON object such as {{"idp-group": {{"roles": '
            f'["approver"], "teams": ["credit-risk"]}}}}'
        )
    mapping = {}
    for group, grant in raw.items():
        where = f"{name}[{group!r}]"
        if not isinstance(grant, dict) or set(grant) - {"roles", "teams"}:
            raise ImproperlyConfigured(f'{where} must be an object with "roles" and/or "teams"')
        roles, teams = grant.get("roles", []), grant.get("teams", [])
        for key, names in (("roles", roles), ("teams", teams)):
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                raise ImproperlyConfigured(f"{where}.{key} must be a list of names")
        unknown = sorted(set(roles) - ROLE_NAMES)
        if unknown:
            raise ImproperlyConfigured(
                f"{where}.roles names {', '.join(unknown)}, not a govreg role "
                f"(one of {', '.join(sorted(ROLE_NAMES))})"
            )
        if "admin" in roles and not allow_admin:
            raise ImproperlyConfigured(
                f"{where}.roles grants admin: set GOVREG_OIDC_ALLOW_ADMIN=true to let the "
                "identity provider make administrators"
            )
        clashing = sorted(set(teams) & ROLE_NAMES)
        if clashing:
            raise ImproperlyConfigured(
                f"{where}.teams names {', '.join(clashing)}, a role: list it under roles"
            )
        mapping[group] = GroupGrant(roles=tuple(roles), teams=tuple(teams))
    return mapping


def oidc_config() -> OidcConfig | None:
    """The single sign-on configuration from the environment, or ``None`` (off)."""
    client_id = env_str("GOVREG_OIDC_CLIENT_ID")
    if client_id is None:
        return None

    def required(name: str) -> str:
        value = env_str(name)
        if value is None:
            raise ImproperlyConfigured(f"{name} must be set when GOVREG_OIDC_CLIENT_ID is")
        return value

    def endpoint(name: str) -> str:
        required(name)
        return env_url(name, None, {"http", "https"})

    allow_admin = env_bool("GOVREG_OIDC_ALLOW_ADMIN", False)
    algorithm = env_str("GOVREG_OIDC_SIGN_ALGORITHM", "RS256")
    if algorithm not in SIGN_ALGORITHMS:
        raise ImproperlyConfigured(
            f"GOVREG_OIDC_SIGN_ALGORITHM must be one of {', '.join(SIGN_ALGORITHMS)}, "
            f"got {algorithm!r}"
        )
    scopes = env_str("GOVREG_OIDC_SCOPES", "openid email profile groups")
    if "openid" not in scopes.split():
        raise ImproperlyConfigured(f"GOVREG_OIDC_SCOPES must include openid, got {scopes!r}")
    return OidcConfig(
        provider_name=env_str("GOVREG_OIDC_PROVIDER_NAME", "your identity provider"),
        client_id=client_id,
        client_secret=required("GOVREG_OIDC_CLIENT_SECRET"),
        authorization_endpoint=endpoint("GOVREG_OIDC_AUTHORIZATION_ENDPOINT"),
        token_endpoint=endpoint("GOVREG_OIDC_TOKEN_ENDPOINT"),
        userinfo_endpoint=endpoint("GOVREG_OIDC_USERINFO_ENDPOINT"),
        jwks_endpoint=endpoint("GOVREG_OIDC_JWKS_ENDPOINT"),
        sign_algorithm=algorithm,
        scopes=scopes,
        groups_claim=env_str("GOVREG_OIDC_GROUPS_CLAIM", "groups"),
        username_claim=env_str("GOVREG_OIDC_USERNAME_CLAIM", "preferred_username"),
        group_map=parse_group_map(
            "GOVREG_OIDC_GROUP_MAP",
            required("GOVREG_OIDC_GROUP_MAP"),
            allow_admin=allow_admin,
        ),
        allow_admin=allow_admin,
        timeout_seconds=env_int("GOVREG_OIDC_TIMEOUT_SECONDS", 10, minimum=1),
    )
