"""Single sign-on to the console with OpenID Connect (mozilla-django-oidc).

Off unless the GOVREG_OIDC_* settings are set (config/sso.py; README "Single
sign-on"). The provider vouches for the person; govreg decides what they may do:

- an account is found by the ID token's issuer and subject (``SsoIdentity``), never
  by e-mail, and a new one is made only for someone at least one of whose provider
  groups is mapped; a local account of the same name is never taken over;
- at every sign-in the provider's group claim is mapped onto roles and teams
  (``GOVREG_OIDC_GROUP_MAP``): a mapped membership the user lacks is added, one that
  single sign-on added earlier and the claim no longer gives is removed
  (``SsoGrant`` says which those are); memberships an administrator gave are left
  alone. Each change is an audit event naming the provider groups behind it;
- whoever ends up in no group at all is refused (deny by default); single sign-on
  never makes a superuser, and grants the admin role only when
  ``GOVREG_OIDC_ALLOW_ADMIN`` lets the map name it.

Failures (an unreachable provider, a refused client, an answer that does not verify,
a refused person) answer the sign-in page with a message saying what went wrong.
"""

import logging
from dataclasses import dataclass

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts.models import SsoGrant, SsoIdentity
from accounts.roles import ROLE_NAMES
from audit.context import Actor, AuditContext, current, reset_context, set_context
from audit.services import record

logger = logging.getLogger(__name__)

SINCE_KEY = "console_since"  # console.views.SINCE_KEY (console sits above accounts)
ACTOR_TOKEN = "single sign-on"


class SignInRefused(Exception):
    """The provider vouched for the person, but govreg does not let them in."""


@dataclass(frozen=True)
class MembershipChange:
    group: str
    kind: str  # "role" or "team"
    change: str  # "added" or "removed"
    provider_groups: tuple[str, ...]

    def as_detail(self, claim: str) -> dict:
        return {
            "group": self.group,
            "kind": self.kind,
            "claim": claim,
            "provider_groups": list(self.provider_groups),
        }


def config():
    """The single sign-on configuration (``config.sso.OidcConfig``), or ``None``: off."""
    return getattr(settings, "GOVREG_OIDC", None)


def provider_groups(claims: dict, claim: str) -> list[str]:
    """The group names the provider sent (a list, or one string), sorted."""
    value = claims.get(claim, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return sorted({item for item in value if isinstance(item, str)})


def mapped_memberships(groups: list[str], cfg) -> dict[str, set[str]]:
    """govreg group name -> the provider groups that grant it."""
    wanted: dict[str, set[str]] = {}
    for name in groups:
        grant = cfg.group_map.get(name)
        if grant is None:
            continue
        for member_of in (*grant.roles, *grant.teams):
            wanted.setdefault(member_of, set()).add(name)
    return wanted


def sync_memberships(user, claims: dict, cfg) -> tuple[list[MembershipChange], list[str]]:
    """Bring the memberships single sign-on gave ``user`` in line with the claims, in
    the caller's transaction: each added or removed one is audited
    (``sso.membership.add`` / ``sso.membership.remove``, with the claim and the
    provider groups). A mapped team that does not exist in govreg is skipped, logged
    and named in the sign-in's audit event (teams are made by administrators).
    Returns the changes and those missing teams."""
    wanted = mapped_memberships(provider_groups(claims, cfg.groups_claim), cfg)
    existing = {group.name: group for group in Group.objects.filter(name__in=wanted)}
    held = set(user.groups.values_list("name", flat=True))
    granted = {grant.group.name: grant for grant in user.sso_grants.select_related("group")}
    changes: list[MembershipChange] = []

    def kind(name: str) -> str:
        return "role" if name in ROLE_NAMES else "team"

    for name in sorted(existing):
        sources = sorted(wanted[name])
        grant = granted.get(name)
        if grant is not None:
            if grant.claims != sources:
                grant.claims = sources
                grant.save(update_fields=["claims"])
            if name not in held:  # an administrator took it away; the claim gives it back
                user.groups.add(existing[name])
                changes.append(MembershipChange(name, kind(name), "added", tuple(sources)))
        elif name not in held:
            user.groups.add(existing[name])
            SsoGrant.objects.create(user=user, group=existing[name], claims=sources)
            changes.append(MembershipChange(name, kind(name), "added", tuple(sources)))
        # held but not granted by single sign-on: an administrator's, left as it is
    for name, grant in sorted(granted.items()):
        if name in existing:
            continue
        if name in held:
            user.groups.remove(grant.group)
        grant.delete()
        changes.append(MembershipChange(name, kind(name), "removed", tuple(grant.claims)))
    for change in changes:
        detail = change.as_detail(cfg.groups_claim)
        if change.change == "added":
            record("sso.membership.add", obj=user, after=detail)
        else:
            record("sso.membership.remove", obj=user, before=detail)
    for cached in ("_govreg_roles", "_govreg_groups"):
        user.__dict__.pop(cached, None)
    missing = sorted(set(wanted) - set(existing))
    if missing:
        logger.warning("single sign-on maps to teams govreg lacks: %s", ", ".join(missing))
    return changes, missing


def _username(claims: dict, cfg) -> str:
    value = claims.get(cfg.username_claim)
    if not isinstance(value, str) or not value.strip():
        raise SignInRefused(
            f"{cfg.provider_name} sent no {cfg.username_claim!r} claim to name the account "
            "with (GOVREG_OIDC_USERNAME_CLAIM)."
        )
    return value.strip()[:150]


def _profile(claims: dict) -> dict:
    fields = {
        "email": claims.get("email"),
        "first_name": claims.get("given_name"),
        "last_name": claims.get("family_name"),
    }
    return {key: value[:150] for key, value in fields.items() if isinstance(value, str)}


def _identity_user(claims: dict, cfg):
    """The account of the identity, made if the claims map to something; ``None`` when
    they map to nothing and there is no account yet."""
    issuer, subject = claims["iss"], claims["sub"]
    identity = _locked_identity(issuer, subject)
    if identity is not None:
        return _signed_in_again(identity, claims)
    if not mapped_memberships(provider_groups(claims, cfg.groups_claim), cfg):
        return None
    username = _username(claims, cfg)
    user_model = get_user_model()
    taken = SignInRefused(
        f"govreg already has an account named {username!r} that is not linked to this "
        f"person at {cfg.provider_name}; it is not taken over. Ask an administrator."
    )
    if user_model.objects.filter(username=username).exists():
        raise taken
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the outer one usable
            user = user_model(username=username, is_staff=True, **_profile(claims))
            user.set_unusable_password()  # the local form never signs this account in
            user.save()
            SsoIdentity.objects.create(
                user=user, issuer=issuer, subject=subject, last_sign_in=timezone.now()
            )
    except IntegrityError:
        # Two first sign-ins of one person at once: the other request made the account
        # (unique username, unique identity) and committed; sign in as it. A username
        # taken by someone else still is not taken over.
        identity = _locked_identity(issuer, subject)
        if identity is None:
            raise taken from None
        return _signed_in_again(identity, claims)
    return user


def _locked_identity(issuer: str, subject: str) -> SsoIdentity | None:
    return (
        SsoIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )


def _signed_in_again(identity: SsoIdentity, claims: dict):
    """The identity's account, its profile brought in line with the claims."""
    user = identity.user
    profile = {k: v for k, v in _profile(claims).items() if getattr(user, k) != v}
    if profile:
        for key, value in profile.items():
            setattr(user, key, value)
        user.save(update_fields=list(profile))
    identity.last_sign_in = timezone.now()
    identity.save(update_fields=["last_sign_in"])
    return user


def _as_actor(user):
    """The audit actor of the sign-in's changes: the person, through single sign-on
    (nobody is signed in yet while the provider's answer is handled)."""
    ctx = current()
    return set_context(
        AuditContext(
            request_id=ctx.request_id,
            source_address=ctx.source_address,
            request=ctx.request,
            actor=Actor(user_id=user.pk, username=user.get_username(), token=ACTOR_TOKEN)
            if user is not None
            else Actor(username=ACTOR_TOKEN, token=ACTOR_TOKEN),
        )
    )


def sign_in_from_claims(claims: dict, cfg):
    """The account the verified claims sign in as, its memberships brought in line with
    the group claim (audited); raises ``SignInRefused`` for someone govreg does not let
    in. The changes are kept even when the sign-in is then refused (a person removed
    from every group loses what single sign-on gave them)."""
    groups = provider_groups(claims, cfg.groups_claim)
    with transaction.atomic():
        user = _identity_user(claims, cfg)
        token = _as_actor(user)
        try:
            if user is None:
                record(
                    "sso.sign-in.refused",
                    object_type="auth.user",
                    after={
                        "issuer": claims["iss"],
                        "subject": claims["sub"],
                        "claim": cfg.groups_claim,
                        "provider_groups": groups,
                        "reason": "no mapped group",
                    },
                )
                refused = _no_group_message(cfg, groups)
            else:
                changes, missing = sync_memberships(user, claims, cfg)
                memberships = sorted(user.groups.values_list("name", flat=True))
                refused = None
                if not user.is_active:
                    refused = "This govreg account is disabled. Ask an administrator."
                elif not memberships:
                    refused = _no_group_message(cfg, groups)
                record(
                    "sso.sign-in.refused" if refused else "sso.sign-in",
                    obj=user,
                    after={
                        "issuer": claims["iss"],
                        "subject": claims["sub"],
                        "claim": cfg.groups_claim,
                        "provider_groups": groups,
                        "added": [c.group for c in changes if c.change == "added"],
                        "removed": [c.group for c in changes if c.change == "removed"],
                        "memberships": memberships,
                        "unknown_teams": missing,
                        **({"reason": refused} if refused else {}),
                    },
                )
        finally:
            reset_context(token)
    if refused:
        raise SignInRefused(refused)
    return user


def _no_group_message(cfg, groups: list[str]) -> str:
    listed = ", ".join(groups) if groups else "none"
    return (
        f"Your account at {cfg.provider_name} is in no group that govreg maps to a role or "
        f"a team (groups sent in the {cfg.groups_claim!r} claim: {listed}). Ask an "
        "administrator to add you to one."
    )


class GroupMappingBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's code flow, with govreg's account rules (``sign_in_from_claims``).

    Permissions are not answered here: ``accounts.authentication.ModelBackend``, also
    listed, answers them for every signed-in user."""

    def get_userinfo(self, access_token, id_token, payload):
        """The userinfo claims, with the verified ID token's issuer; the two must name
        the same subject (OpenID Connect Core 5.3.2) and the token must be for us."""
        audience = payload.get("aud")
        # a string or a list of strings (RFC 7519 4.1.3); anything else names no client
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list):
            audiences = []
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("the ID token was issued for another client")
        if not payload.get("iss") or not payload.get("sub"):
            raise SuspiciousOperation("the ID token names no issuer or subject")
        claims = super().get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != payload["sub"]:
            raise SuspiciousOperation("the userinfo answer is about another subject")
        return {**claims, "iss": payload["iss"]}

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        return sign_in_from_claims(claims, config())

    def authenticate(self, request, **kwargs):
        if config() is None:
            return None
        return super().authenticate(request, **kwargs)

    def get_user_permissions(self, user_obj, obj=None):
        return set()

    def get_group_permissions(self, user_obj, obj=None):
        return set()

    def get_all_permissions(self, user_obj, obj=None):
        return set()

    def has_perm(self, user_obj, perm, obj=None):
        return False

    def has_module_perms(self, user_obj, app_label):
        return False


def _sign_in_failed(request, message: str, status: int):
    """The sign-in page again, saying what went wrong."""
    logger.warning("single sign-on failed (%s): %s", status, message)
    cfg = config()
    context = {
        "form": AuthenticationForm(request),
        "sso_error": message,
        "sso_provider": cfg.provider_name if cfg is not None else "",
        "next": "",
    }
    return render(request, "console/login.html", context, status=status)


def _endpoint_name(url: str, cfg) -> str:
    names = {
        cfg.token_endpoint: "token endpoint",
        cfg.userinfo_endpoint: "userinfo endpoint",
        cfg.jwks_endpoint: "key set (JWKS)",
    }
    return names.get(url.split("?")[0], "endpoint")


class CallbackView(OIDCAuthenticationCallbackView):
    """The provider sends the browser back here with a code (or an error)."""

    def login_success(self):
        previous = self.user.last_login
        response = super().login_success()
        if previous is not None:
            self.request.session[SINCE_KEY] = previous.isoformat()
        return response

    def login_failure(self):
        return _sign_in_failed(
            self.request,
            "The sign-in could not be completed: it was not started from this browser or "
            "it took too long. Start again from the sign-in page.",
            400,
        )

    def get(self, request):
        cfg = config()
        if request.GET.get("error"):
            super().get(request)  # forgets the state, signs out
            detail = request.GET.get("error_description") or request.GET["error"]
            return _sign_in_failed(
                request, f"{cfg.provider_name} did not sign you in: {detail}.", 403
            )
        try:
            return super().get(request)
        except SignInRefused as exc:
            return _sign_in_failed(request, str(exc), 403)
        except requests.HTTPError as exc:
            answer = exc.response
            where = _endpoint_name(answer.url, cfg)
            try:
                body = answer.json()
                said = ": ".join(
                    str(body[key]) for key in ("error", "error_description") if body.get(key)
                )
            except ValueError:
                said = answer.text[:200]
            return _sign_in_failed(
                request,
                f"{cfg.provider_name} refused govreg at its {where} ({answer.url}, HTTP "
                f"{answer.status_code}{': ' + said if said else ''}). Check GOVREG_OIDC_CLIENT_ID,"
                " GOVREG_OIDC_CLIENT_SECRET and the endpoints.",
                502,
            )
        except requests.RequestException as exc:
            url = getattr(exc.request, "url", None) or "?"
            where = _endpoint_name(url, cfg)
            return _sign_in_failed(
                request,
                f"govreg could not reach {cfg.provider_name} at its {where} ({url}): "
                f"{type(exc).__name__}. Check the GOVREG_OIDC_* endpoints and that the provider "
                "is up.",
                502,
            )
        except SuspiciousOperation as exc:
            return _sign_in_failed(
                request, f"The answer from {cfg.provider_name} did not verify: {exc}.", 400
            )


def _only_when_enabled(view):
    def guarded(request, *args, **kwargs):
        if config() is None:
            raise Http404("single sign-on is off")
        return view(request, *args, **kwargs)

    guarded.__doc__ = view.__doc__
    return guarded


# Routed always; both answer 404 while single sign-on is off (the route matrix's cells).
urlpatterns = [
    path(
        "authenticate/",
        _only_when_enabled(OIDCAuthenticationRequestView.as_view()),
        name="oidc-authenticate",
    ),
    # Outside the request's transaction: the callback waits on the provider (token,
    # key set, userinfo), and on SQLite an open transaction holds the write lock;
    # sign_in_from_claims writes in one transaction of its own.
    path(
        "callback/",
        transaction.non_atomic_requests(_only_when_enabled(CallbackView.as_view())),
        name="oidc-callback",
    ),
]
