"""Service endpoints: health, metrics, API docs offline, JSON errors everywhere."""

import re
import subprocess
import sys

import pytest
from rest_framework.test import APIClient

from registry.services import register_model
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_is_503_when_the_database_is_down():
    # a real process whose database is a closed port
    script = (
        "import django; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz');"
        "print(r.status_code, r.json()['status'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={
            **__import__("os").environ,
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
        },
        timeout=60,
    )
    assert result.stdout.strip() == "503 unavailable", result.stderr[-2000:]


def test_metrics_has_request_counters_and_latencies(client, team):
    register_model(name="m", team=team, risk_tier="minimal", description="d")
    client.get("/healthz")
    body = client.get("/metrics").content.decode()
    assert "django_http_requests_latency_seconds_by_view_method" in body
    assert re.search(
        r'django_http_responses_total_by_status_view_method_total\{.*view="healthz"', body
    )


def test_metrics_token_when_configured(client, settings):
    settings.GOVREG_METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_openapi_schema_and_docs_need_no_internet(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/models/" in schema.json()["paths"]
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", docs)
    assert external == []
    for asset in re.findall(r"""src=["'](/static/[^"']+)""", docs):
        assert client.get(asset).status_code == 200, asset


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["status"] == 404
    assert response.json()["error"] == "not_found"


def test_api_404_for_missing_object_is_json(owner):
    response = token_client(owner).get("/api/models/999999/")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "error": "not_found", "message": "Not found."}


def test_validation_errors_name_the_field(owner, team):
    response = token_client(owner).post(
        "/api/models/",
        {"name": "ok-name", "team": team.name, "risk_tier": "sky-high"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body["fields"]) == {"risk_tier", "description"}
    assert body["message"].split(":")[0] in {"risk_tier", "description"}


def test_malformed_json_is_a_400_not_a_500(owner):
    response = token_client(owner).generic(
        "POST", "/api/models/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"


def test_server_errors_are_json(rf):
    from config.views import server_error

    response = server_error(rf.get("/api/models/"))
    assert response.status_code == 500
    assert b'"error": "server_error"' in response.content


def test_session_api_writes_need_csrf(owner, team):
    owner.set_password("pw-for-test-1")
    owner.save()
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=owner.username, password="pw-for-test-1")
    response = client.post(
        "/api/models/", {"name": "x", "team": team.name, "risk_tier": "minimal", "description": "d"}
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


def test_an_empty_validation_error_is_still_a_json_400(rf):
    from rest_framework import exceptions

    from config.api import exception_handler

    response = exception_handler(exceptions.ValidationError({}), {})
    assert response.status_code == 400
    assert response.data["message"] == "Invalid input."


@pytest.mark.parametrize("path", ["/api/no-such-thing/", "/api/v1/no-such-thing", "/api/a/b/c"])
def test_unknown_api_paths_are_json_even_with_debug_on(client, settings, path):
    settings.DEBUG = True  # `make run`: Django would show its HTML debug page
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": 404,
        "error": "not_found",
        "message": f"No resource at {path}",
    }


def test_unknown_api_path_answers_json_to_any_method(client, settings):
    settings.DEBUG = True
    response = client.post("/api/no-such-thing/", {"a": 1})
    assert response.status_code == 404  # not a CSRF 403 nor a 405
    assert response.json()["error"] == "not_found"


def test_a_404_from_an_api_view_is_json_with_debug_on(owner, settings):
    settings.DEBUG = True
    api = token_client(owner)
    for path in ("/api/models/999999/", "/api/v1/namespaces/no-such-namespace"):
        response = api.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json", path
        assert response.json()["error"] == "not_found", path


@pytest.mark.parametrize("debug", [True, False])
def test_board_pages_keep_html_404s(client, settings, debug):
    settings.DEBUG = debug
    response = client.get("/no-such-page/", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
