"""The approver's journey on the decision page, in Chromium on the demo story: from the
request list to loan-default@3's page, where the summary, the evidence and their own
eligibility are shown before they click, then the approval with a comment."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import check_axe, shot, sign_in


def test_the_approver_decides_a_pending_request_on_the_decision_page(demo_server, page):
    sign_in(page, demo_server, "approver2")
    page.goto(f"{demo_server}/requests/")
    page.get_by_role("row").filter(has_text="loan-default").get_by_role("link").first.click()
    expect(page.locator("h1")).to_contain_text("loan-default version 3 to production")

    # the summary and the decide box come first; the evidence follows
    expect(page.locator("#request-status")).to_have_text("pending")
    expect(page.locator("#required-approvals")).to_contain_text("1/2 approver")
    expect(page.locator("#failing-checks")).to_contain_text("required-evaluations")
    expect(page.locator("#replaces")).to_contain_text("version 1, live in production")
    expect(page.locator("#eligibility")).to_contain_text("You may approve")
    expect(page.locator("#lapse-rule")).to_contain_text("if you approve now")
    expect(page.locator("#section-evaluations")).to_contain_text("Human review (required)")
    expect(page.locator("#section-risks")).to_contain_text("Score drift")
    expect(page.locator("#changes")).to_contain_text("What changed against version 1")
    assert page.locator("#decide").bounding_box()["y"] < 768  # the decide box is in view
    check_axe(page)
    shot(page, "decide-request", full_page=True)

    page.fill("#approve-comment", "Card, lineage and stress results reviewed.")
    page.get_by_role("button", name="Approve").click()

    expect(page.locator(".messages")).to_contain_text("Your approval is recorded.")
    expect(page.locator("#required-approvals")).to_contain_text("2/2 approver")
    expect(page.locator("#my-decision")).to_contain_text("You approved on")
    expect(page.locator("#approvals")).to_contain_text("Card, lineage and stress results reviewed.")
    # still pending: the human review is missing, and no one may approve twice
    expect(page.locator("#request-status")).to_have_text("pending")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    page.reload()
    check_axe(page)


def test_the_decision_page_on_a_narrow_window(demo_server, page):
    page.set_viewport_size({"width": 420, "height": 900})
    sign_in(page, demo_server, "board")
    page.goto(f"{demo_server}/requests/?status=all")
    page.get_by_role("row").filter(has_text="account-takeover").get_by_role("link").first.click()
    expect(page.locator("#request-status")).to_have_text("denied")
    expect(page.locator("#eligibility")).to_have_text(re.compile(r"\S"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, f"the page scrolls sideways ({width}px)"
    check_axe(page)
    shot(page, "decide-request-narrow", full_page=True)
