"""Single sign-on end to end: the console, a real OpenID provider and the browser.

The provider is the npm package ``oidc-provider`` run by Node.js
(``tests/browser/oidc_provider/provider.mjs``, installed with ``npm ci`` on first use).
Its people and their groups are a JSON file this test writes; rewriting it moves a
person between groups at the provider, as an administrator there would. With CI set, a
missing Node.js or npm fails the test instead of skipping it.
"""

import json
import os
import selectors
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.models import SsoGrant
from audit.models import AuditEvent
from config.sso import oidc_config
from tests.browser.conftest import check_axe, shot

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
CLIENT_ID = "govreg-console"
CLIENT_SECRET = "test-client-secret-of-govreg"
GROUP_MAP = {
    "idp-approvers": {"roles": ["approver"], "teams": ["credit-risk"]},
    "idp-engineers": {"roles": ["ml-engineer"], "teams": ["credit-risk"]},
    "idp-auditors": {"roles": ["auditor"]},
}


def _missing(what: str):
    message = f"the single sign-on test needs {what}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: a missing provider fails the test)", pytrace=False)
    pytest.skip(message)


def _install_provider() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing("Node.js and npm (apt-get install nodejs npm)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PROVIDER_DIR,
            check=True,
            timeout=600,
        )
    return node


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Provider:
    issuer: str
    accounts_file: Path

    def set_people(self, people: dict) -> None:
        """Who exists at the provider, with their groups (read at every claim request)."""
        self.accounts_file.write_text(json.dumps(people), encoding="utf-8")


@pytest.fixture
def oidc_provider(live_server, tmp_path):
    """A running oidc-provider whose one client is govreg at the live server."""
    node = _install_provider()
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    provider = Provider(issuer=issuer, accounts_file=tmp_path / "people.json")
    provider.set_people({})
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": f"{live_server.url}/oidc/callback/",
        "OIDC_ACCOUNTS_FILE": str(provider.accounts_file),
    }
    process = subprocess.Popen(
        [node, "provider.mjs"],
        cwd=PROVIDER_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            line = process.stdout.readline() if selector.select(timeout=30) else ""
        if not line.startswith("ready"):
            process.kill()
            pytest.fail(f"oidc-provider did not start: {line}{process.stderr.read()}")
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=10)


def _sso_env(issuer: str, **overrides) -> dict[str, str]:
    return {
        "GOVREG_OIDC_PROVIDER_NAME": "Test IdP",
        "GOVREG_OIDC_CLIENT_ID": CLIENT_ID,
        "GOVREG_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "GOVREG_OIDC_AUTHORIZATION_ENDPOINT": f"{issuer}/auth",
        "GOVREG_OIDC_TOKEN_ENDPOINT": f"{issuer}/token",
        "GOVREG_OIDC_USERINFO_ENDPOINT": f"{issuer}/me",
        "GOVREG_OIDC_JWKS_ENDPOINT": f"{issuer}/jwks",
        "GOVREG_OIDC_GROUP_MAP": json.dumps(GROUP_MAP),
        **overrides,
    }


@pytest.fixture
def enable_sso(settings, monkeypatch, oidc_provider):
    """Turn single sign-on on, from GOVREG_OIDC_* variables as a deployment sets them."""

    def enable(**overrides):
        for name, value in _sso_env(oidc_provider.issuer, **overrides).items():
            monkeypatch.setenv(name, value)
        cfg = oidc_config()
        settings.GOVREG_OIDC = cfg
        for name, value in cfg.library_settings().items():
            setattr(settings, name, value)
        backends = [b for b in settings.AUTHENTICATION_BACKENDS if "oidc" not in b]
        settings.AUTHENTICATION_BACKENDS = [*backends, "accounts.oidc.GroupMappingBackend"]
        return cfg

    return enable


@pytest.fixture
def teams(transactional_db):
    return {name: Group.objects.get_or_create(name=name)[0] for name in ("credit-risk",)}


def _sso_sign_in(page, base_url: str, login: str | None):
    """From govreg's sign-in page through the provider and back; ``login`` None when
    the provider still has a session (no login or consent asked). Returns the answer
    of govreg's callback."""
    page.goto(f"{base_url}/login/")
    with page.expect_response(lambda r: "/oidc/callback/" in r.url) as callback:
        page.get_by_role("link", name="Sign in with Test IdP").click()
        if login is not None:
            page.fill("input[name=login]", login)
            page.fill("input[name=password]", "any")
            page.click("button[type=submit]")
            page.get_by_role("button", name="Continue").click()  # consent
    page.wait_for_load_state()
    return callback.value


def _memberships(username: str) -> set[str]:
    user = get_user_model().objects.get(username=username)
    return set(user.groups.values_list("name", flat=True))


def _sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login/")


def test_sign_in_maps_groups_and_a_removed_group_removes_the_role(
    live_server, page, enable_sso, oidc_provider, teams
):
    enable_sso()
    oidc_provider.set_people(
        {"alice": {"email": "alice@example.com", "name": "Alice", "groups": ["idp-approvers"]}}
    )
    page.goto(f"{live_server.url}/login/")
    button = page.get_by_role("link", name="Sign in with Test IdP")
    assert button.get_attribute("href") == "/oidc/authenticate/"
    check_axe(page)
    shot(page, "sign-in-sso")

    answer = _sso_sign_in(page, live_server.url, "alice")
    assert answer.status == 302
    assert page.url == f"{live_server.url}/"
    assert page.locator(".who").inner_text().startswith("alice")
    assert _memberships("alice") == {"approver", "credit-risk"}
    alice = get_user_model().objects.get(username="alice")
    assert not alice.has_usable_password() and not alice.is_superuser
    assert alice.sso_identity.issuer == oidc_provider.issuer
    assert alice.sso_identity.subject == "alice"
    added = AuditEvent.objects.filter(action="sso.membership.add", object_id=str(alice.pk))
    assert {
        (e.after["group"], e.after["kind"], tuple(e.after["provider_groups"])) for e in added
    } == {
        ("approver", "role", ("idp-approvers",)),
        ("credit-risk", "team", ("idp-approvers",)),
    }
    assert {e.actor_username for e in added} == {"alice"}
    assert {e.after["claim"] for e in added} == {"groups"}

    # An administrator adds alice to the auditors by hand: single sign-on leaves that be.
    alice.groups.add(Group.objects.get(name="auditor"))
    _sign_out(page)

    # At the provider alice moves from the approvers to the engineers.
    oidc_provider.set_people(
        {"alice": {"email": "alice@example.com", "name": "Alice", "groups": ["idp-engineers"]}}
    )
    answer = _sso_sign_in(page, live_server.url, None)  # the provider remembers her
    assert answer.status == 302
    assert _memberships("alice") == {"ml-engineer", "credit-risk", "auditor"}
    removed = AuditEvent.objects.get(action="sso.membership.remove", object_id=str(alice.pk))
    assert removed.before == {
        "group": "approver",
        "kind": "role",
        "claim": "groups",
        "provider_groups": ["idp-approvers"],
    }
    assert set(SsoGrant.objects.filter(user=alice).values_list("group__name", flat=True)) == {
        "ml-engineer",
        "credit-risk",
    }
    assert SsoGrant.objects.get(user=alice, group__name="credit-risk").claims == ["idp-engineers"]
    sign_in = AuditEvent.objects.filter(action="sso.sign-in", object_id=str(alice.pk)).last()
    assert sign_in.after["added"] == ["ml-engineer"]
    assert sign_in.after["removed"] == ["approver"]
    _sign_out(page)

    # Out of every mapped group: what single sign-on gave goes; the admin's grant stays,
    # and with it she may still sign in.
    oidc_provider.set_people({"alice": {"email": "alice@example.com", "groups": ["sales"]}})
    answer = _sso_sign_in(page, live_server.url, None)
    assert answer.status == 302
    assert _memberships("alice") == {"auditor"}
    _sign_out(page)

    # Once the administrator's grant goes too, she is in no group: refused (deny by default).
    alice.groups.remove(Group.objects.get(name="auditor"))
    answer = _sso_sign_in(page, live_server.url, None)
    assert answer.status == 403
    assert "in no group that govreg maps" in page.get_by_role("alert").inner_text()
    assert page.locator(".who").count() == 0  # not signed in


def test_someone_in_no_mapped_group_is_refused_and_gets_no_account(
    live_server, page, enable_sso, oidc_provider, teams
):
    enable_sso()
    oidc_provider.set_people({"mallory": {"email": "mallory@example.com", "groups": ["sales"]}})
    answer = _sso_sign_in(page, live_server.url, "mallory")
    assert answer.status == 403
    alert = page.get_by_role("alert").inner_text()
    assert "Test IdP is in no group that govreg maps" in alert
    assert "sales" in alert
    assert not get_user_model().objects.filter(username="mallory").exists()
    refused = AuditEvent.objects.get(action="sso.sign-in.refused")
    assert refused.after["subject"] == "mallory"
    assert refused.after["provider_groups"] == ["sales"]
    shot(page, "sign-in-sso-refused")
    check_axe(page)


def test_a_local_account_of_the_same_name_is_not_taken_over(
    live_server, page, enable_sso, oidc_provider, teams
):
    enable_sso()
    get_user_model().objects.create_user("admin", password="break-glass-password")
    oidc_provider.set_people(
        {"admin": {"email": "someone@example.com", "groups": ["idp-auditors"]}}
    )
    answer = _sso_sign_in(page, live_server.url, "admin")
    assert answer.status == 403
    assert "already has an account named 'admin'" in page.get_by_role("alert").inner_text()
    assert _memberships("admin") == set()


def test_an_unreachable_token_endpoint_is_named_on_the_sign_in_page(
    live_server, page, enable_sso, oidc_provider, teams
):
    closed = f"http://127.0.0.1:{_free_port()}/token"
    enable_sso(GOVREG_OIDC_TOKEN_ENDPOINT=closed)
    oidc_provider.set_people({"bob": {"email": "bob@example.com", "groups": ["idp-auditors"]}})
    answer = _sso_sign_in(page, live_server.url, "bob")
    assert answer.status == 502
    alert = page.get_by_role("alert").inner_text()
    assert f"govreg could not reach Test IdP at its token endpoint ({closed})" in alert
    assert page.get_by_role("link", name="Sign in with Test IdP").is_visible()
    assert not get_user_model().objects.filter(username="bob").exists()
    shot(page, "sign-in-sso-unreachable")


def test_a_wrong_client_secret_shows_what_the_provider_said(
    live_server, page, enable_sso, oidc_provider, teams
):
    enable_sso(GOVREG_OIDC_CLIENT_SECRET="not-the-secret")
    oidc_provider.set_people({"bob": {"email": "bob@example.com", "groups": ["idp-auditors"]}})
    answer = _sso_sign_in(page, live_server.url, "bob")
    assert answer.status == 502
    alert = page.get_by_role("alert").inner_text()
    assert "Test IdP refused govreg at its token endpoint" in alert
    assert "HTTP 401: invalid_client" in alert


def test_a_callback_without_a_started_sign_in_is_a_clear_400(live_server, page, enable_sso):
    enable_sso()
    answer = page.goto(f"{live_server.url}/oidc/callback/?code=abc&state=forged")
    assert answer.status == 400
    assert "Start again from the sign-in page" in page.get_by_role("alert").inner_text()


def test_the_redirect_to_the_provider_is_a_302_under_the_strict_policy(
    live_server, page, enable_sso, oidc_provider
):
    enable_sso()
    answers = []
    page.on("response", lambda r: answers.append(r) if "/oidc/authenticate/" in r.url else None)
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.wait_for_url(f"{oidc_provider.issuer}/**")
    assert answers[0].status == 302
    location = answers[0].headers["location"]
    assert location.startswith(f"{oidc_provider.issuer}/auth?")
    assert "code_challenge_method=S256" in location
    policy = page.context.request.get(f"{live_server.url}/login/").headers[
        "content-security-policy"
    ]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
