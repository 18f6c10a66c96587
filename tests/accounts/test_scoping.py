"""Team scoping: owner, team member and outsider; nothing of one team leaks to another."""

import pytest
from django.urls import get_resolver

from accounts.roles import Role
from registry.services import register_model
from tests.conftest import token_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECRET_NAME = "credit-scoring-secret-model"


@pytest.fixture
def credit_model(team, owner):
    return register_model(
        name=SECRET_NAME, team=team, risk_tier="high", description="Scores loan applications."
    )


def test_owner_and_member_see_the_model_outsider_does_not(credit_model, owner, member, outsider):
    for user in (owner, member):
        client = token_client(user)
        names = [m["name"] for m in client.get("/api/models/").json()["results"]]
        assert names == [SECRET_NAME]
        assert client.get(f"/api/models/{credit_model.pk}/").status_code == 200

    client = token_client(outsider)
    listing = client.get("/api/models/").json()
    assert listing["count"] == 0
    assert listing["results"] == []
    response = client.get(f"/api/models/{credit_model.pk}/")
    assert response.status_code == 404  # not 403: existence is not confirmed


def test_outsider_cannot_change_or_delete(credit_model, outsider):
    client = token_client(outsider)
    assert client.patch(f"/api/models/{credit_model.pk}/", {"description": "x"}).status_code == 404
    assert client.delete(f"/api/models/{credit_model.pk}/").status_code == 404
    credit_model.refresh_from_db()
    assert credit_model.description == "Scores loan applications."


def test_member_can_update(credit_model, member):
    client = token_client(member)
    response = client.patch(
        f"/api/models/{credit_model.pk}/", {"description": "Scores SME loans."}, format="json"
    )
    assert response.status_code == 200, response.json()
    credit_model.refresh_from_db()
    assert credit_model.description == "Scores SME loans."


def test_outsider_cannot_create_in_another_team(outsider, team):
    client = token_client(outsider)
    response = client.post(
        "/api/models/",
        {"name": "sneaky", "team": team.name, "risk_tier": "minimal", "description": "d"},
        format="json",
    )
    assert response.status_code == 403
    assert "credit-risk" in response.json()["message"]


def test_auditor_reads_everything_but_changes_nothing(credit_model, auditor):
    client = token_client(auditor)
    assert client.get(f"/api/models/{credit_model.pk}/").status_code == 200
    response = client.patch(f"/api/models/{credit_model.pk}/", {"description": "x"}, format="json")
    assert response.status_code == 403


def test_roles_are_not_teams(db):
    user = UserFactory(groups=[Role.ML_ENGINEER])
    client = token_client(user)
    response = client.post(
        "/api/models/",
        {"name": "m", "team": "ml-engineer", "risk_tier": "minimal", "description": "d"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["fields"]["team"]


def _list_urls() -> list[str]:
    """Every parameterless list endpoint under /api/."""
    urls = []
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) != "api/":
            continue
        for sub in pattern.url_patterns:
            name = getattr(sub, "name", "") or ""
            route = str(sub.pattern)
            if name.endswith("-list") and "<" not in route and "(?P" not in route:
                path = route.lstrip("^").rstrip("$").replace("/?", "/").replace("\\", "")
                urls.append("/api/" + path)
    return sorted(set(urls))


def test_no_list_endpoint_leaks_another_teams_model(credit_model, outsider):
    urls = _list_urls()
    assert "/api/models/" in urls
    client = token_client(outsider)
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 403), (url, response.status_code)
        assert SECRET_NAME not in response.content.decode(), url
