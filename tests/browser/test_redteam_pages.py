"""The red-team pages in Chromium on the demo story: the engineer finds the sweep on
loan-default@3 in the exercise list and reads where its finding's fix stands."""

from playwright.sync_api import expect

from risk.demo import REDTEAM_EXERCISE, REDTEAM_FINDING, REDTEAM_TEST
from tests.browser.conftest import check_axe, shot, sign_in


def test_the_engineer_reads_the_finding_and_its_fix_on_the_version_in_scope(demo_server, page):
    sign_in(page, demo_server, "engineer")
    page.get_by_role("link", name="Red team").click()
    expect(page.locator("h1")).to_have_text("Red-team exercises")
    check_axe(page)
    shot(page, "redteam-exercises")

    page.get_by_role("link", name=REDTEAM_EXERCISE).click()
    expect(page.locator("#exercise-status")).to_have_text("Completed")
    finding = page.locator("article", has_text=REDTEAM_FINDING)
    expect(finding).to_contain_text("Fixed")
    expect(finding).to_contain_text(REDTEAM_TEST)
    expect(finding.locator("tbody tr")).to_have_count(1)
    expect(finding.locator("tbody tr")).to_contain_text("loan-default@3")
    expect(finding.locator("tbody tr")).to_contain_text("passed")
    expect(page.locator("#history")).to_contain_text("redteam.finding.fixed")
    check_axe(page)
    shot(page, "redteam-exercise", full_page=True)


def test_the_list_filters_by_status_and_another_team_sees_none(demo_server, page, new_page):
    sign_in(page, demo_server, "engineer")
    page.goto(f"{demo_server}/redteam/?status=running")
    expect(page.locator("#exercise-count")).to_contain_text("0 exercises")
    outsider = new_page()
    sign_in(outsider, demo_server, "approver3")
    outsider.goto(f"{demo_server}/redteam/")
    expect(outsider.locator("#exercises tbody")).to_contain_text("No red-team exercise")
