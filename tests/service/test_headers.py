"""Security headers: a strict Content-Security-Policy on every answer, and answers
that carry a secret are never stored by a browser or a proxy."""

import pytest

from accounts.models import ApiToken
from tests.conftest import token_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "headers-pass-2468"


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def assert_strict(response):
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    for sources in directives.values():
        assert "'unsafe-inline'" not in sources
        assert "'unsafe-eval'" not in sources
        assert "*" not in sources


@pytest.fixture
def staff_client(client):
    user = UserFactory(username="stella", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    assert client.login(username="stella", password=PASSWORD)
    return client


@pytest.mark.parametrize(
    "path",
    ["/", "/requests/", "/admin/", "/admin/auth/user/", "/api/docs/", "/api/me/", "/healthz"],
)
def test_every_page_carries_a_strict_policy(staff_client, path):
    response = staff_client.get(path)
    assert response.status_code == 200, path
    assert_strict(response)


def test_errors_and_anonymous_answers_carry_it_too(client):
    assert_strict(client.get("/admin/login/"))
    assert_strict(client.get("/api/models/"))  # 401
    assert_strict(client.get("/api/no-such-thing/"))  # 404


def test_the_api_docs_script_is_a_separate_file_and_its_style_is_allowed_by_hash(client):
    page = client.get("/api/docs/")
    html = page.content.decode()
    assert "<script>" not in html  # every script has a src
    assert 'src="/api/docs/?script="' in html
    style_sources = policy(page)["style-src"]
    assert style_sources[0] == "'self'"
    assert len(style_sources) == 2
    assert style_sources[1].startswith("'sha256-")
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
    assert "no-store" in script["Cache-Control"]  # it carries the CSRF token


def test_the_board_and_admin_templates_have_no_inline_style_or_script(staff_client):
    from risk.models import RiskMatrix

    matrix = RiskMatrix.objects.first()
    for path in ("/", "/admin/", f"/admin/risk/riskmatrix/{matrix.pk}/change/"):
        html = staff_client.get(path).content.decode()
        assert "<style" not in html, path
        assert "style=" not in html, path
        assert "<script>" not in html, path


def test_a_new_token_is_never_cached(owner):
    client = token_client(owner)
    created = client.post("/api/tokens/", {"name": "laptop"}, format="json")
    assert created.status_code == 201
    cache_control = {part.strip() for part in created["Cache-Control"].split(",")}
    assert {"no-store", "private"} <= cache_control
    assert ApiToken.objects.filter(user=owner, name="laptop").exists()
