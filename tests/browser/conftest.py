"""The shared harness of the console's browser tests (Playwright driving Debian's Chromium).

Fixtures and helpers::

    def test_my_page(demo_server, page):          # live server on the seed_demo data
        sign_in(page, demo_server, "board")       # through govreg's /login/ page
        page.goto(f"{demo_server}/risks/")
        check_axe(page)                            # 0 serious/critical axe-core violations
        shot(page, "risks")                        # /tmp/shots/browser/risks.png

``demo_server`` is the live server's base URL after ``seed_demo`` told its story into
the test database (each test starts from it afresh: live-server tests are transactional
and flushed afterwards). ``browser`` is one Chromium per test; ``page`` a fresh
context (own cookies) per test, 1366x768, under the site's real Content-Security-Policy.
``new_page()`` (from the ``new_page`` fixture) opens another one, e.g. for a second user.
The tests skip when /usr/bin/chromium is missing (``make browser`` installs it).
"""

from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.demo import DEMO_PASSWORD

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
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SHOTS = Path("/tmp/shots/browser")
VIEWPORT = {"width": 1366, "height": 768}
SEVERE = ("serious", "critical")


def pytest_collection_modifyitems(config, items):
    """Every test in tests/browser/ needs Chromium and a transactional database (the live
    server's thread sees only committed rows)."""
    here = Path(__file__).parent
    skip = pytest.mark.skip(
        reason="needs Debian's Chromium at /usr/bin/chromium (make browser installs it)"
    )
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        if not CHROMIUM.exists():
            item.add_marker(skip)


@pytest.fixture
def browser(live_server, transactional_db, monkeypatch):
    """One Chromium for the test. Set up after the database and the live server and
    closed before them: Playwright's sync API runs an event loop in the test's thread,
    and Django refuses ORM calls from a thread with a running loop unless told it is
    fine (``DJANGO_ALLOW_ASYNC_UNSAFE``; the browser and the ORM never run at once)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium (make browser installs it)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def demo_server(live_server, transactional_db):
    """The live server's base URL, on the demo story (``manage.py seed_demo``)."""
    call_command("seed_demo", "--quiet-story", stdout=_Discard())
    return live_server.url


@pytest.fixture
def new_page(browser):
    contexts = []

    def open_page(**options):
        context = browser.new_context(**{"viewport": VIEWPORT, **options})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def sign_in(page, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through /login/ and wait for the home page."""
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def check_axe(page, *, context: str | None = None) -> list[dict]:
    """Run axe-core on the page as it is now and fail on any serious or critical
    violation, naming the rule, its help text and the offending elements.

    axe is evaluated through the DevTools protocol, which the page's CSP does not
    govern (an injected <script> tag would be refused by ``script-src 'self'``), so the
    page is tested under its real policy. Returns all violations (minor ones included)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    violations = page.evaluate(
        """async (selector) => {
            const result = await axe.run(selector || document,
                                         {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ") + " :: " + n.failureSummary),
            }));
        }""",
        context,
    )
    severe = [v for v in violations if v["impact"] in SEVERE]
    if severe:
        lines = [f"axe-core: {len(severe)} serious/critical violation(s) on {page.url}"]
        for violation in severe:
            lines.append(f"- [{violation['impact']}] {violation['id']}: {violation['help']}")
            lines.extend(f"    {node}" for node in violation["nodes"][:5])
        pytest.fail("\n".join(lines), pytrace=False)
    return violations


def shot(page, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot of the page to /tmp/shots/browser/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    target = SHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page)
    return target


class _Discard:
    def write(self, text):
        return len(text)

    def flush(self):
        pass
