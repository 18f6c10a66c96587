"""The board's pages, through Django's test client (the browser test is test_browser.py)."""

import pytest
from django.test import Client

from registry.gate import ui
from tests.gate.conftest import ask

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(api, pipeline, version):
    return ask(api(pipeline), version).json()["id"]


def browser(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_anonymous_is_sent_to_login(client):
    for url in ("/", "/requests/", "/requests/1/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_the_list_shows_what_each_user_may_see(pending, alice, outsider, auditor):
    for user in (alice, auditor):
        page = browser(user).get("/")
        assert page.status_code == 200
        assert f"/requests/{pending}/" in page.content.decode()
    page = browser(outsider).get("/requests/").content.decode()
    assert f"/requests/{pending}/" not in page and "No pending deployment request" in page
    assert browser(outsider).get(f"/requests/{pending}/").status_code == 404


def test_the_request_page_shows_lineage_checks_and_approvals(pending, alice):
    page = browser(alice).get(f"/requests/{pending}/").content.decode()

    assert "loan-default version 7 to production" in page
    assert "loans/raw/applications" in page and "md5:" in page  # dataset versions + hashes
    assert "approvals-complete" in page and "2 more approver" in page
    assert 'name="csrfmiddlewaretoken"' in page and ">Approve</button>" in page


def test_approving_and_rejecting_through_the_forms(pending, alice, bob, carol):
    as_alice, as_bob = browser(alice), browser(bob)
    assert as_alice.post(f"/requests/{pending}/approve", {"comment": "fine"}).status_code == 302
    page = as_alice.get(f"/requests/{pending}/").content.decode()
    assert "Your approval is recorded." in page and "1/2 approver" in page
    as_alice.post(f"/requests/{pending}/approve", {"comment": "again"})
    assert "already decided" in as_alice.get(f"/requests/{pending}/").content.decode()

    # the registrant may look but not decide
    page = browser(carol).get(f"/requests/{pending}/").content.decode()
    assert "Separation of duties: you registered this version." in page
    assert ">Approve</button>" not in page

    as_bob.post(f"/requests/{pending}/reject", {"comment": ""})
    assert "A rejection needs a comment" in as_bob.get(f"/requests/{pending}/").content.decode()
    as_bob.post(f"/requests/{pending}/reject", {"comment": "Fairness report missing."})
    page = as_bob.get(f"/requests/{pending}/").content.decode()
    assert 'id="request-status">denied' in page
    assert "rejected by bob: Fairness report missing." in page


def test_forms_need_the_csrf_token(pending, alice):
    client = browser(alice, enforce_csrf_checks=True)
    assert client.post(f"/requests/{pending}/approve", {"comment": "x"}).status_code == 403


def test_sections_registered_by_other_apps_are_shown(pending, alice, monkeypatch):
    monkeypatch.setattr(ui, "_sections", {})

    @ui.board_section("risks", order=10)
    def risks(deployment_request, user):
        return ui.Section(
            "Risks", columns=["risk", "score"], rows=[{"risk": "<b>drift</b>", "score": 12}]
        )

    page = browser(alice).get(f"/requests/{pending}/").content.decode()
    assert "<h2>Risks</h2>" in page
    assert "&lt;b&gt;drift&lt;/b&gt;" in page  # escaped, never trusted as HTML
