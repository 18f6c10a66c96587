"""The board member's journey through the risk register, in Chromium on the demo story:
the heat map, a click on a cell, the register narrowed to that cell, one risk."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import check_axe, shot, sign_in


def test_a_board_member_clicks_a_heat_map_cell_and_sees_the_filtered_register(demo_server, page):
    sign_in(page, demo_server, "board")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Risks").click()
    expect(page.locator("h1")).to_have_text("Risk register")
    check_axe(page)
    page.get_by_role("link", name="Heat map").click()
    expect(page.locator("#heatmap caption")).to_contain_text("Residual risk")
    check_axe(page)
    shot(page, "risk-heatmap")

    page.get_by_role("link", name="Inherent").click()
    expect(page.locator("#heatmap caption")).to_contain_text("Inherent risk")
    cell = page.locator("#heatmap td.heat a").first
    count = int(cell.inner_text())
    cell.click()

    expect(page.locator("#cell-filter")).to_contain_text("inherent cell")
    expect(page.locator("#register tbody tr")).to_have_count(count)
    check_axe(page)
    shot(page, "risk-register-cell")

    page.locator("#register tbody a").first.click()
    expect(page.locator("h1")).to_have_text(re.compile(r"^#\d+: "))
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    check_axe(page)
    shot(page, "risk-page", full_page=True)


def test_the_register_filters_and_a_narrow_window(demo_server, page):
    page.set_viewport_size({"width": 420, "height": 900})
    sign_in(page, demo_server, "board")
    page.goto(f"{demo_server}/risks/")
    page.select_option("#id_above_appetite", "true")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#register tbody tr")).to_have_count(1)
    expect(page.locator("#register")).to_contain_text("Score drift")
    check_axe(page)
    shot(page, "risk-register-narrow", full_page=True)
    page.goto(f"{demo_server}/risks/heatmap/")
    check_axe(page)
    shot(page, "risk-heatmap-narrow", full_page=True)
