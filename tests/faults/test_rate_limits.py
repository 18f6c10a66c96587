"""Rate limits (issue 17): sign-in, token creation and anonymous intake answer 429 with
``Retry-After`` past their rate; the suite itself runs with them off
(config/test_settings.py), so each test here sets a low rate and starts its count afresh."""

import pytest
from django.core.cache import cache

from accounts.models import ApiToken
from tests.factories import UserFactory
from tests.lineage.factories import run_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    """Set rates for this test; the counts of the addresses and users used start at 0."""

    def set_limits(**rates):
        settings.GOVREG_RATE_LIMITS = {**settings.GOVREG_RATE_LIMITS, **rates}

    return set_limits


def fresh(scope: str, ident: str) -> None:
    cache.delete(f"throttle_{scope}_{ident}")


def test_sign_in_attempts_past_the_rate_are_429(client, limits, owner):
    limits(**{"sign-in": "3/minute"})
    address = "198.51.100.7"
    fresh("sign-in", address)
    attempt = {"username": owner.username, "password": "wrong"}
    for _ in range(3):
        assert client.post("/login/", attempt, REMOTE_ADDR=address).status_code == 200
    refused = client.post("/login/", attempt, REMOTE_ADDR=address)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    # another address is counted on its own, and the page itself still answers
    fresh("sign-in", "198.51.100.8")
    assert client.post("/login/", attempt, REMOTE_ADDR="198.51.100.8").status_code == 200
    assert client.get("/login/", REMOTE_ADDR=address).status_code == 200


def test_the_admin_sign_in_shares_the_sign_in_count(client, limits, owner):
    limits(**{"sign-in": "2/minute"})
    address = "198.51.100.9"
    fresh("sign-in", address)
    attempt = {"username": owner.username, "password": "wrong"}
    assert client.post("/login/", attempt, REMOTE_ADDR=address).status_code == 200
    assert client.post("/admin/login/", attempt, REMOTE_ADDR=address).status_code == 200
    refused = client.post("/admin/login/", attempt, REMOTE_ADDR=address)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert client.get("/admin/login/", REMOTE_ADDR=address).status_code == 200


def test_token_creation_past_the_rate_is_429(client_for, limits):
    user = UserFactory(username="tess")
    limits(tokens="2/hour")
    fresh("tokens", f"user-{user.pk}")
    api = client_for(user)  # issued by the service, not counted
    for name in ("a", "b"):
        assert api.post("/api/tokens/", {"name": name}, format="json").status_code == 201
    refused = api.post("/api/tokens/", {"name": "c"}, format="json")
    assert refused.status_code == 429
    assert refused.json()["status"] == 429 and refused.json()["error"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert not ApiToken.objects.filter(user=user, name="c").exists()
    assert api.get("/api/tokens/").status_code == 200  # listing is not creating


def test_anonymous_intake_past_the_rate_is_429_and_signed_in_callers_pass(
    client, client_for, limits, settings, owner
):
    settings.GOVREG_LINEAGE_ALLOW_ANONYMOUS = True
    limits(anonymous="2/minute")
    address = "203.0.113.9"
    fresh("anonymous", address)
    for index in range(2):
        response = client.post(
            "/api/v1/lineage",
            run_event(job=f"anon-{index}"),
            content_type="application/json",
            REMOTE_ADDR=address,
        )
        assert response.status_code == 201, response.content[:300]
    refused = client.post(
        "/api/v1/lineage",
        run_event(job="anon-3"),
        content_type="application/json",
        REMOTE_ADDR=address,
    )
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    signed_in = client_for(owner).post(
        "/api/v1/lineage", run_event(job="signed"), format="json", REMOTE_ADDR=address
    )
    assert signed_in.status_code == 201


def test_an_unset_rate_is_no_limit(client_for, limits):
    user = UserFactory(username="una")
    limits(tokens=None)
    api = client_for(user)
    for index in range(5):
        assert api.post("/api/tokens/", {"name": str(index)}, format="json").status_code == 201
