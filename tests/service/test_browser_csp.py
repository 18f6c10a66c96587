"""A real browser (Debian's Chromium driven by Playwright) under the strict
Content-Security-Policy: the board, the admin and the API docs load and work, and
the browser reports no violation on any of them."""

from pathlib import Path

import pytest

from risk.models import RiskMatrix
from tests.factories import UserFactory

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
PASSWORD = "csp-pass-1357"

# Runs before any page script; the listener records every blocked load or inline block.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.effectiveDirective + " " + (event.blockedURI || "inline"));
});
"""

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
    pytest.mark.django_db(transaction=True),
]


def test_board_admin_and_api_docs_load_without_a_policy_violation(live_server, monkeypatch):
    playwright_api = pytest.importorskip("playwright.sync_api")
    admin = UserFactory(username="ada", is_staff=True, is_superuser=True)
    admin.set_password(PASSWORD)
    admin.save()
    matrix = RiskMatrix.objects.first()
    base = live_server.url

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = chromium.new_context().new_page()
            page.add_init_script(RECORD_VIOLATIONS)
            seen = {}

            def visit(path, ready_selector):
                page.goto(f"{base}{path}")
                page.wait_for_selector(ready_selector)
                page.wait_for_load_state("networkidle")
                seen[path] = page.evaluate("window.__violations")

            visit("/admin/login/", "#id_username")
            page.fill("#id_username", "ada")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{base}/admin/")
            visit("/admin/", "#content-main")
            visit("/admin/auth/user/", "#result_list")
            visit(f"/admin/risk/riskmatrix/{matrix.pk}/change/", "table.audit-history")
            visit("/requests/", "main")
            # Swagger UI ran its start-up script and rendered the schema's operations.
            visit("/api/docs/", ".swagger-ui .opblock")
            title = page.inner_text(".swagger-ui .info .title")
            operations = page.locator(".swagger-ui .opblock").count()
            box_sizing = page.evaluate("getComputedStyle(document.documentElement).boxSizing")
        finally:
            chromium.close()
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE")

    assert seen == {path: [] for path in seen}
    assert "govreg API" in title
    assert operations > 0
    assert box_sizing == "border-box"  # the docs page's own inline style applied (by hash)
