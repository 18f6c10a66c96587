"""A real browser (Debian's Chromium driven by Playwright) through the board's pages:
sign in, open the pending request, approve it, see its status change."""

from pathlib import Path

import pytest

from registry.models import DeploymentRequest
from tests.gate.conftest import ask

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
)

PASSWORD = "board-pass-7531"


def sign_in(page, base_url, username):
    page.goto(f"{base_url}/")
    assert "/login/" in page.url  # anonymous users are sent to govreg's sign-in page
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def test_board_member_approves_in_the_browser(
    live_server, monkeypatch, api, pipeline, version, alice, bob
):
    playwright_api = pytest.importorskip("playwright.sync_api")
    for user in (alice, bob):
        user.set_password(PASSWORD)  # the console signs in any active account
        user.save()
    request_id = ask(api(pipeline), version).json()["id"]
    base = live_server.url

    # Playwright's sync API runs an event loop in this thread; the ORM is not used inside.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            statuses = []
            for username, comment in (("alice", "Model card and lineage reviewed."), ("bob", "")):
                context = chromium.new_context()
                page = context.new_page()
                sign_in(page, base, username)
                page.click(f"a[href='/requests/{request_id}/']")
                page.wait_for_selector("#request-status")
                assert "loans/raw/applications" in page.content()  # the lineage is shown
                before = page.inner_text("#request-status").lower()
                page.fill("#approve-comment", comment)
                page.click("button[name=approve]")
                page.wait_for_selector(".msg-success")
                statuses.append((before, page.inner_text("#request-status").lower()))
                assert username in page.inner_text("#approvals")
                context.close()
        finally:
            chromium.close()

    assert statuses == [("pending", "pending"), ("pending", "approved")]
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE")
    assert DeploymentRequest.objects.get(pk=request_id).status == "approved"
