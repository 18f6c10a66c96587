"""The public model card in a real browser, signed out: the demo's loan-default card
with its notice, under the site's Content-Security-Policy and axe-core; a report sent
through its form lands on the reporter's status page with a reference, and the form's
honeypot stays out of sight and out of the keyboard's way."""

import re

from playbooks.models import FeedbackReport
from tests.browser.conftest import check_axe, shot


def test_anyone_reads_the_card_and_sends_a_report(demo_server, page):
    errors, failed = [], []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("response", lambda r: r.status >= 400 and failed.append(r.url))
    page.goto(f"{demo_server}/cards/loan-default")
    assert page.locator("h1").inner_text() == "loan-default"
    assert page.get_by_role("heading", name="Incident notices").is_visible()
    assert page.get_by_text("Loan decisions after a change in credit bureau data").is_visible()
    honeypot = page.locator("#feedback-website").bounding_box()
    assert honeypot["x"] + honeypot["width"] < 0  # off-screen: people never fill it in
    check_axe(page)
    shot(page, "public-card", full_page=True)

    page.select_option("#feedback-category", "bug")
    page.fill("#feedback-text", "The page said <b>declined</b> with no reason given.")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/feedback/[^/]+\?sent=1$"))
    assert page.get_by_text("Thank you.").is_visible()
    reference = page.locator(".reference").inner_text()
    report = FeedbackReport.objects.get(text__contains="no reason given")
    assert reference == report.reference and report.channel == "public-form"
    # the reporter's own words come back as text, not markup
    assert page.get_by_text("The page said <b>declined</b> with no reason given.").is_visible()
    check_axe(page)
    shot(page, "feedback-status", full_page=True)
    # no CSP refusal, no script error; the only missing resource is the browser's favicon
    assert [url for url in failed if not url.endswith("/favicon.ico")] == []
    assert [e for e in errors if not e.startswith("Failed to load resource")] == [], errors


def test_an_unpublished_card_is_not_found(demo_server, page):
    response = page.goto(f"{demo_server}/cards/card-fraud")
    assert response.status == 404
