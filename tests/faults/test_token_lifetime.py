"""Every token expires (issue 17): ``expires_days`` 0 is refused, API-made tokens get
``GOVREG_TOKEN_TTL_DAYS`` by default, and ``GOVREG_TOKEN_MAX_DAYS`` bounds them all."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def lifetime(body) -> timedelta:
    return ApiToken.objects.get(token_key=body["id"]).expiry - timezone.now()


@pytest.mark.parametrize("days", [0, -1, True, "never", None])
def test_a_token_that_would_not_expire_is_refused(client_for, owner, days):
    response = client_for(owner).post(
        "/api/tokens/", {"name": "x", "expires_days": days}, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    assert "expires_days" in response.json()["fields"]
    assert not ApiToken.objects.filter(user=owner, name="x").exists()


def test_an_api_token_gets_the_configured_default_lifetime(client_for, owner, settings):
    settings.GOVREG_TOKEN_TTL_DAYS = 3
    response = client_for(owner).post("/api/tokens/", {"name": "x"}, format="json")
    assert response.status_code == 201
    assert timedelta(days=2, hours=23) < lifetime(response.json()) <= timedelta(days=3)


def test_the_maximum_lifetime_bounds_api_tokens(client_for, owner, settings):
    settings.GOVREG_TOKEN_MAX_DAYS = 30
    client = client_for(owner)
    refused = client.post("/api/tokens/", {"name": "x", "expires_days": 31}, format="json")
    assert refused.status_code == 400
    assert refused.json()["fields"]["expires_days"] == ["must be a number of days from 1 to 30"]
    made = client.post("/api/tokens/", {"name": "y", "expires_days": 30}, format="json")
    assert made.status_code == 201
    assert lifetime(made.json()) <= timedelta(days=30)


def test_the_maximum_lifetime_bounds_command_line_tokens(owner, settings):
    settings.GOVREG_TOKEN_MAX_DAYS = 30
    for days in ("0", "31"):
        with pytest.raises(CommandError, match="expires-days"):
            call_command("issue_token", owner.username, "--expires-days", days, stdout=StringIO())
    call_command("issue_token", owner.username, stdout=StringIO())
    token = ApiToken.objects.get(user=owner, name="cli")
    assert token.expiry is not None
