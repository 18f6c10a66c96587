"""Single sign-on: its settings, and the mapping of provider groups onto roles and teams.

The browser test against a real OpenID provider is tests/browser/test_sso.py; here the
mapping is driven with the claims a provider would send, on the real database.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation

from accounts.models import SsoGrant, SsoIdentity
from accounts.oidc import GroupMappingBackend, SignInRefused, sign_in_from_claims
from accounts.roles import ROLE_NAMES
from audit.models import AuditEvent
from config import sso
from config.sso import oidc_config

ISSUER = "https://idp.example.com"
GROUP_MAP = {
    "idp-approvers": {"roles": ["approver"], "teams": ["credit-risk"]},
    "idp-engineers": {"roles": ["ml-engineer"], "teams": ["credit-risk"]},
    "idp-fraud": {"teams": ["fraud-detection"]},
}
REQUIRED = {
    "GOVREG_OIDC_CLIENT_ID": "govreg",
    "GOVREG_OIDC_CLIENT_SECRET": "s3cret",
    "GOVREG_OIDC_AUTHORIZATION_ENDPOINT": f"{ISSUER}/auth",
    "GOVREG_OIDC_TOKEN_ENDPOINT": f"{ISSUER}/token",
    "GOVREG_OIDC_USERINFO_ENDPOINT": f"{ISSUER}/me",
    "GOVREG_OIDC_JWKS_ENDPOINT": f"{ISSUER}/jwks",
    "GOVREG_OIDC_GROUP_MAP": json.dumps(GROUP_MAP),
}


@pytest.fixture
def env(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_off_without_a_client_id(monkeypatch):
    for name in REQUIRED:
        monkeypatch.delenv(name, raising=False)
    assert oidc_config() is None


def test_settings_from_the_environment(env):
    env.setenv("GOVREG_OIDC_PROVIDER_NAME", "Keycloak")
    cfg = oidc_config()
    assert cfg.provider_name == "Keycloak"
    assert cfg.group_map["idp-approvers"] == sso.GroupGrant(
        roles=("approver",), teams=("credit-risk",)
    )
    library = cfg.library_settings()
    assert library["OIDC_OP_TOKEN_ENDPOINT"] == f"{ISSUER}/token"
    assert library["OIDC_RP_SIGN_ALGO"] == "RS256"
    assert library["OIDC_USE_PKCE"] is True
    assert library["OIDC_RP_SCOPES"] == "openid email profile groups"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GOVREG_OIDC_CLIENT_SECRET", "", "GOVREG_OIDC_CLIENT_SECRET must be set"),
        ("GOVREG_OIDC_TOKEN_ENDPOINT", "ftp://idp/token", "GOVREG_OIDC_TOKEN_ENDPOINT must use"),
        ("GOVREG_OIDC_GROUP_MAP", "{not json", "GOVREG_OIDC_GROUP_MAP must be a JSON object"),
        ("GOVREG_OIDC_GROUP_MAP", "{}", "must be a non-empty JSON object"),
        (
            "GOVREG_OIDC_GROUP_MAP",
            '{"g": {"roles": ["superhero"]}}',
            "GOVREG_OIDC_GROUP_MAP['g'].roles names superhero, not a govreg role",
        ),
        ("GOVREG_OIDC_GROUP_MAP", '{"g": {"roles": ["admin"]}}', "GOVREG_OIDC_ALLOW_ADMIN"),
        ("GOVREG_OIDC_GROUP_MAP", '{"g": {"teams": ["board"]}}', "a role: list it under roles"),
        ("GOVREG_OIDC_GROUP_MAP", '{"g": {"role": ["board"]}}', 'with "roles" and/or "teams"'),
        ("GOVREG_OIDC_GROUP_MAP", '{"g": {"teams": "x"}}', "teams must be a list of names"),
        ("GOVREG_OIDC_SIGN_ALGORITHM", "HS256", "GOVREG_OIDC_SIGN_ALGORITHM must be one of"),
        ("GOVREG_OIDC_SCOPES", "email groups", "GOVREG_OIDC_SCOPES must include openid"),
        ("GOVREG_OIDC_TIMEOUT_SECONDS", "0", "GOVREG_OIDC_TIMEOUT_SECONDS must be at least 1"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_it(env, name, value, message):
    env.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        oidc_config()


def test_the_admin_role_only_when_allowed(env):
    env.setenv("GOVREG_OIDC_GROUP_MAP", '{"idp-admins": {"roles": ["admin"]}}')
    env.setenv("GOVREG_OIDC_ALLOW_ADMIN", "true")
    assert oidc_config().group_map["idp-admins"].roles == ("admin",)


def test_the_role_names_agree_with_accounts():
    assert sso.ROLE_NAMES == ROLE_NAMES


# --- the mapping, on the database ------------------------------------------------------


@pytest.fixture
def cfg(env, db):
    for team in ("credit-risk", "fraud-detection"):
        Group.objects.get_or_create(name=team)
    return oidc_config()


def claims(sub="u-1", groups=("idp-approvers",), **extra):
    return {
        "iss": ISSUER,
        "sub": sub,
        "preferred_username": "carol",
        "email": "carol@example.com",
        "groups": list(groups),
        **extra,
    }


def names(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_first_sign_in_makes_the_account_with_the_mapped_memberships(cfg):
    user = sign_in_from_claims(claims(), cfg)
    assert user.username == "carol"
    assert names(user) == {"approver", "credit-risk"}
    assert not user.has_usable_password()
    assert not user.is_superuser
    assert SsoIdentity.objects.get(user=user).subject == "u-1"
    event = AuditEvent.objects.get(action="sso.sign-in")
    assert event.after["added"] == ["approver", "credit-risk"]
    assert event.actor_username == "carol"
    assert event.actor_token == "single sign-on"


def test_the_account_is_found_by_subject_not_by_name_or_mail(cfg):
    first = sign_in_from_claims(claims(), cfg)
    again = sign_in_from_claims(claims(preferred_username="renamed", email="new@example.com"), cfg)
    assert again.pk == first.pk
    assert again.username == "carol"
    assert again.email == "new@example.com"


def test_a_removed_group_removes_what_it_gave_and_only_that(cfg):
    user = sign_in_from_claims(claims(groups=["idp-approvers", "idp-fraud"]), cfg)
    auditor = Group.objects.get(name="auditor")
    user.groups.add(auditor)  # an administrator's grant
    user = sign_in_from_claims(claims(groups=["idp-engineers"]), cfg)
    assert names(user) == {"ml-engineer", "credit-risk", "auditor"}
    removed = AuditEvent.objects.filter(action="sso.membership.remove").order_by("seq")
    assert [(e.before["group"], e.before["provider_groups"]) for e in removed] == [
        ("approver", ["idp-approvers"]),
        ("fraud-detection", ["idp-fraud"]),
    ]
    assert SsoGrant.objects.get(user=user, group__name="credit-risk").claims == ["idp-engineers"]


def test_a_membership_given_locally_before_is_not_claimed_by_single_sign_on(cfg):
    user = sign_in_from_claims(claims(groups=["idp-fraud"]), cfg)
    user.groups.add(Group.objects.get(name="credit-risk"))  # by hand
    sign_in_from_claims(claims(groups=["idp-fraud", "idp-engineers"]), cfg)
    user = sign_in_from_claims(claims(groups=["idp-fraud"]), cfg)
    assert "credit-risk" in names(user)
    assert "ml-engineer" not in names(user)


def test_a_membership_single_sign_on_gave_comes_back_while_the_claim_gives_it(cfg):
    user = sign_in_from_claims(claims(), cfg)
    user.groups.remove(Group.objects.get(name="approver"))  # by hand, in govreg
    user = sign_in_from_claims(claims(), cfg)
    assert names(user) == {"approver", "credit-risk"}
    assert AuditEvent.objects.filter(action="sso.membership.add").count() == 3


def test_nothing_changes_when_the_claims_did_not(cfg):
    sign_in_from_claims(claims(), cfg)
    before = AuditEvent.objects.filter(action__startswith="sso.membership").count()
    sign_in_from_claims(claims(), cfg)
    assert AuditEvent.objects.filter(action__startswith="sso.membership").count() == before


def test_deny_by_default(cfg):
    with pytest.raises(SignInRefused, match="in no group that govreg maps"):
        sign_in_from_claims(claims(groups=["sales"]), cfg)
    assert not get_user_model().objects.filter(username="carol").exists()
    assert AuditEvent.objects.get(action="sso.sign-in.refused").after["reason"] == "no mapped group"


def test_out_of_every_group_loses_the_memberships_and_is_refused(cfg):
    user = sign_in_from_claims(claims(), cfg)
    with pytest.raises(SignInRefused):
        sign_in_from_claims(claims(groups=[]), cfg)
    assert names(user) == set()
    assert AuditEvent.objects.filter(action="sso.membership.remove").count() == 2


def test_a_disabled_account_is_refused(cfg):
    user = sign_in_from_claims(claims(), cfg)
    user.is_active = False
    user.save()
    with pytest.raises(SignInRefused, match="disabled"):
        sign_in_from_claims(claims(), cfg)


def test_a_local_account_is_never_taken_over(cfg):
    get_user_model().objects.create_user("carol", password="break-glass")
    with pytest.raises(SignInRefused, match="already has an account named 'carol'"):
        sign_in_from_claims(claims(), cfg)


def test_no_username_claim_is_refused_naming_the_claim(cfg):
    with pytest.raises(SignInRefused, match="no 'preferred_username' claim"):
        sign_in_from_claims(claims(preferred_username=""), cfg)


def test_a_mapped_team_govreg_lacks_is_skipped_and_named(env, db):
    env.setenv("GOVREG_OIDC_GROUP_MAP", '{"g": {"roles": ["auditor"], "teams": ["nowhere"]}}')
    user = sign_in_from_claims(claims(groups=["g"]), oidc_config())
    assert names(user) == {"auditor"}
    assert AuditEvent.objects.get(action="sso.sign-in").after["unknown_teams"] == ["nowhere"]


# --- off by default --------------------------------------------------------------------


@pytest.mark.django_db
def test_while_off_the_routes_are_404_and_the_page_has_no_button(client):
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
    page = client.get("/login/")
    assert page.status_code == 200
    assert b"/oidc/authenticate/" not in page.content


def test_start_up_stops_on_a_bad_group_map_naming_it():
    env = {**os.environ, **REQUIRED, "DEBUG": "true", "GOVREG_OIDC_GROUP_MAP": "[1]"}
    answer = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode != 0
    assert "GOVREG_OIDC_GROUP_MAP must be a non-empty JSON object" in answer.stderr


def test_an_id_token_for_another_client_is_refused_before_any_request(cfg, settings):
    settings.GOVREG_OIDC = cfg
    for name, value in cfg.library_settings().items():
        setattr(settings, name, value)
    backend = GroupMappingBackend()
    payload = {"iss": ISSUER, "sub": "u-1", "aud": ["someone-else"]}
    with pytest.raises(SuspiciousOperation, match="issued for another client"):
        backend.get_userinfo("access", "id", payload)
    with pytest.raises(SuspiciousOperation, match="no issuer or subject"):
        backend.get_userinfo("access", "id", {"aud": "govreg"})
    for odd in (5, {"govreg": True}, None):  # an audience of another type names no client
        with pytest.raises(SuspiciousOperation, match="issued for another client"):
            backend.get_userinfo("access", "id", {**payload, "aud": odd})
