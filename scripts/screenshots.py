"""Screenshots of the console's pages for the README's tour: ``python scripts/screenshots.py``.

Starts its own server on a scratch SQLite database told the demo story (``seed_demo``),
signs in as the role each page is for, and saves one 1366x768 PNG per page into
docs/screenshots/. Re-runnable; needs Chromium at /usr/bin/chromium (``make browser``)
and Python playwright. Add a page with one line in PAGES: (file name, user, path, and
optionally a link to follow from that path, for pages whose id depends on the data).

To look at a narrow window: ``python scripts/screenshots.py --width 420 --full-page
--out /some/folder`` (the README's pictures are the default, 1366x768).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PASSWORD = "govreg-demo"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 768}

# (file name, username, path, link to follow from there or None)
PAGES = [
    ("home-approver", "approver2", "/", None),
    ("home-board", "board", "/", None),
    ("models", "board", "/models/", None),
    ("model", "auditor", "/models/loan-default/", None),
    ("audit-trail", "auditor", "/audit/", None),
    ("requests", "board", "/requests/?status=all", None),
    ("decision", "approver2", "/", "a[href^='/requests/'][href$='/']:not([href='/requests/'])"),
    ("risks", "board", "/risks/", None),
    ("heatmap", "board", "/risks/heatmap/", None),
    ("risk", "approver", "/risks/?above_appetite=true", "#register tbody a"),
    ("redteam-exercises", "board", "/redteam/", None),
    ("redteam-exercise", "engineer", "/redteam/", "#exercises tbody a"),
    ("incidents", "board", "/incidents/?status=all", None),
    ("incident", "board", "/incidents/?overdue=true&status=all", "#main tbody a"),
    ("lineage", "engineer", "/lineage/model/loan-default/2/", None),
    ("dataset-version", "engineer", "/lineage/", "#main tbody a[href^='/lineage/versions/']"),
    ("public-card", "board", "/cards/loan-default", None),  # the same page for anyone
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(database: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "DEBUG": "true"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [*manage, "seed_demo", "--quiet-story"],
        env=env,
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)  # waiting for the server process to listen
    server.terminate()
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder of the PNGs")
    parser.add_argument("--width", type=int, default=VIEWPORT["width"])
    parser.add_argument("--height", type=int, default=VIEWPORT["height"])
    parser.add_argument("--full-page", action="store_true", help="the whole page, not a window")
    args = parser.parse_args()
    out = args.out.resolve()
    viewport = {"width": args.width, "height": args.height}
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        server = start_server(Path(scratch) / "screenshots.sqlite3", port)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                contexts = {}
                for name, username, path, follow in PAGES:
                    if username not in contexts:
                        context = browser.new_context(viewport=viewport)
                        page = context.new_page()
                        page.goto(f"{base}/login/")
                        page.fill("#id_username", username)
                        page.fill("#id_password", PASSWORD)
                        page.click("button[type=submit]")
                        page.wait_for_url(f"{base}/")
                        contexts[username] = page
                    page = contexts[username]
                    response = page.goto(f"{base}{path}")
                    if follow:
                        page.click(follow)
                        page.wait_for_load_state("load")
                    page.wait_for_load_state("networkidle")
                    if page.locator("#lineage-graph").count():  # drawn from its JSON
                        page.wait_for_function(
                            "document.getElementById('graph-status').textContent.length > 0"
                        )
                    target = out / f"{name}.png"
                    page.screenshot(path=str(target), full_page=args.full_page)
                    shown = page.url.removeprefix(base)
                    where = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
                    print(f"{response.status} {shown} -> {where}")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
