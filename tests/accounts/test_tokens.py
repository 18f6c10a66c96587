"""Token lifecycle: hashed storage, expiry, read-only scope, issuing and revoking."""

import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.roles import Role
from accounts.services import issue_token
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.utils import manage_env

pytestmark = pytest.mark.django_db


def all_text_in_database() -> str:
    """Every value of every table, as one string, to search for leaked secrets."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from introspection
            chunks.extend(str(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_plaintext_is_nowhere_in_the_database(owner):
    token, plaintext = issue_token(owner, name="ci")
    assert plaintext.startswith("gvr_")
    assert len(plaintext) > 60
    assert token.digest != plaintext
    assert plaintext not in all_text_in_database()
    # only the lookup prefix is stored in the clear
    assert token.token_key == plaintext[:15]


def test_token_authenticates_as_bearer(owner):
    client = token_client(owner)
    response = client.get("/api/me/")
    assert response.status_code == 200
    assert response.json()["username"] == owner.username
    assert response.json()["teams"] == ["credit-risk"]
    assert response.json()["roles"] == [Role.ML_ENGINEER]


def test_expired_token_is_refused(owner):
    client = token_client(owner)
    ApiToken.objects.filter(user=owner).update(expiry=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_read_only_token_reads_but_cannot_write(owner):
    client = token_client(owner, read_only=True)
    assert client.get("/api/models/").status_code == 200
    response = client.post("/api/models/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["message"]


def test_anonymous_gets_401_with_challenge():
    response = APIClient().get("/api/models/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["status"] == 401


def test_garbage_token_gets_401(owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer gvr_not-a-real-token")
    assert client.get("/api/me/").status_code == 401


def test_token_api_shows_plaintext_once_and_revokes(owner):
    client = token_client(owner)
    created = client.post("/api/tokens/", {"name": "deploy", "expires_days": 7}, format="json")
    assert created.status_code == 201
    body = created.json()
    plaintext = body["token"]
    assert body["name"] == "deploy"
    assert body["expiry"] is not None
    listing = client.get("/api/tokens/").json()
    assert {t["name"] for t in listing["results"]} == {"test", "deploy"}
    assert plaintext not in str(listing)

    new_client = APIClient()
    new_client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert new_client.get("/api/me/").status_code == 200
    assert client.delete(f"/api/tokens/{body['id']}/").status_code == 204
    assert new_client.get("/api/me/").status_code == 401


def test_users_see_only_their_own_tokens(owner, member):
    token, _ = issue_token(member, name="members-token")
    client = token_client(owner)
    names = [t["name"] for t in client.get("/api/tokens/").json()["results"]]
    assert "members-token" not in names
    assert client.delete(f"/api/tokens/{token.token_key}/").status_code == 404


def test_issue_token_command_prints_only_the_token(transactional_db):
    user = UserFactory(username="ci-bot", groups=[Role.PIPELINE])
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "issue_token",
            "ci-bot",
            "--expires-days",
            "3",
            "--read-only",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=manage_env(),
    )
    plaintext = result.stdout.strip()
    assert re.fullmatch(r"gvr_[0-9a-f]{64}", plaintext)
    assert result.stdout == plaintext + "\n"
    token = ApiToken.objects.get(user=user)
    assert token.read_only is True
    assert timedelta(days=2, hours=23) < token.expiry - timezone.now() <= timedelta(days=3)


def test_issue_token_command_refuses_unknown_user(transactional_db):
    result = subprocess.run(
        [sys.executable, "manage.py", "issue_token", "nobody"],
        capture_output=True,
        text=True,
        env=manage_env(),
    )
    assert result.returncode != 0
    assert "no active user named 'nobody'" in result.stderr
    assert result.stdout == ""


def test_expired_tokens_are_purged_by_the_periodic_task(owner, member):
    from accounts.tasks import purge_expired_tokens

    live, _ = issue_token(owner, name="live")
    stale, _ = issue_token(member, name="stale")
    ApiToken.objects.filter(pk=stale.pk).update(expiry=timezone.now() - timedelta(days=1))
    assert purge_expired_tokens.delay().get() == 1
    assert purge_expired_tokens.delay().get() == 0
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["live"]


def test_who_am_i_is_one_statement_the_token_with_its_user_and_groups(owner, team):
    """GET /api/me/ is the API's floor: the token, its user and the user's group names
    (teams and roles, which every permission question reads) in one statement."""
    from django.contrib.auth.models import Group
    from django.test.utils import CaptureQueriesContext

    owner.groups.add(Group.objects.get(name=Role.APPROVER))
    roles = sorted(owner.groups.filter(name__in=Role.values).values_list("name", flat=True))
    assert Role.APPROVER in roles
    client = token_client(owner)
    with CaptureQueriesContext(connection) as captured:
        answer = client.get("/api/me/")
    assert answer.status_code == 200
    assert answer.json()["teams"] == [team.name]
    assert answer.json()["roles"] == roles
    assert len(captured) == 1, [q["sql"][:100] for q in captured.captured_queries]
    owner.groups.clear()  # no groups at all: the aggregate is empty, not an error
    with CaptureQueriesContext(connection) as captured:
        answer = client.get("/api/me/")
    assert (answer.json()["teams"], answer.json()["roles"], len(captured)) == ([], [], 1)


@pytest.mark.parametrize(
    "presented",
    ["gvr_\x00" + "a" * 40, "gvr_caf\xe9" + "a" * 40, "gvr_\x7f" + "a" * 40, "gvr_"],
)
def test_a_malformed_bearer_token_is_refused_not_an_error(owner, presented):
    """A NUL byte (which PostgreSQL text cannot hold), a byte that is not UTF-8 (headers
    arrive as Latin-1), a control character or a bare prefix: 401 naming the token,
    never a 500."""
    issue_token(owner, name="real")
    client = APIClient(raise_request_exception=False)
    answer = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {presented}")
    assert answer.status_code == 401, answer.content[:300]
    assert "token" in answer.json()["message"].lower()
