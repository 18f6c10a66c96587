"""Every console page in Chromium on the demo story: axe-core finds no serious or
critical violation, on a wide and on a narrow window, and every link, button and form
field on it is reached with the Tab key alone. The remaining role journeys (the board
member's overdue report, the engineer's walk from a model version to its revoked
training data) and an approval made with the keyboard only.

``console_pages`` names every page the console serves; a new page gets a line there."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from lineage.models import DatasetVersion
from playbooks.demo import OVERDUE_REPORT_INCIDENT
from playbooks.demo_public import DEMO_FEEDBACK_TEXT
from playbooks.models import Drill, FeedbackReport, Incident, Playbook
from playbooks.services.reviews import save_drill
from registry.models import DeploymentRequest
from risk.demo import REDTEAM_EXERCISE
from risk.models import RedTeamExercise, Risk
from tests.browser.conftest import check_axe, shot, sign_in

NARROW = {"width": 420, "height": 800}

# What the keyboard must reach: every enabled control a pointer could use.
FOCUSABLE = (
    "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), "
    "select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])"
)


def console_pages() -> list[tuple[str, str, str]]:
    """(name, user, path) of every page of the console, on the demo story."""
    pending = DeploymentRequest.objects.get(
        status="pending", model_version__model__name="loan-default", environment__name="production"
    )
    risk = Risk.objects.get(title="Score drift when the bureau data changes")
    exercise = RedTeamExercise.objects.get(title=REDTEAM_EXERCISE)
    incident = Incident.objects.get(title=OVERDUE_REPORT_INCIDENT)
    revoked = DatasetVersion.objects.filter(status="revoked").first()
    feedback = FeedbackReport.objects.get(text=DEMO_FEEDBACK_TEXT)
    drill = save_drill(
        Drill(
            playbook=Playbook.objects.get(name="drift-response"),
            title="Rollback drill",
            scheduled_for=timezone.now() + timedelta(days=7),
        )
    )
    return [
        ("home-board", "board", "/"),
        ("home-approver", "approver2", "/"),
        ("home-engineer", "engineer", "/"),
        ("home-auditor", "auditor", "/"),
        ("home-admin", "admin", "/"),
        ("models", "board", "/models/"),
        ("models-filtered", "board", "/models/?risk_tier=high"),
        ("model", "board", "/models/loan-default/"),
        ("requests", "board", "/requests/?status=all"),
        ("decision", "approver2", f"/requests/{pending.pk}/"),
        ("risks", "board", "/risks/"),
        ("risk-heatmap", "board", "/risks/heatmap/"),
        ("risk", "approver", f"/risks/{risk.pk}/"),
        ("redteam-exercises", "board", "/redteam/"),
        ("redteam-exercise", "engineer", f"/redteam/{exercise.pk}/"),
        ("incidents", "board", "/incidents/?status=all"),
        ("incident", "engineer", f"/incidents/{incident.pk}/"),
        ("drills", "engineer", "/drills/"),
        ("drill", "engineer", f"/drills/{drill.pk}/"),
        ("feedback-reports", "engineer", "/feedback-reports/"),
        ("feedback-report", "engineer", f"/feedback-reports/{feedback.pk}/"),
        ("lineage", "engineer", "/lineage/"),
        ("lineage-picture", "engineer", "/lineage/model/loan-default/2/"),
        ("dataset-version", "engineer", f"/lineage/versions/{revoked.pk}/"),
        ("audit-trail", "auditor", "/audit/"),
        ("vocabulary", "engineer", "/vocabulary/"),
        ("not-found", "engineer", "/models/card-fraud/"),
    ]


def settle(page) -> None:
    """Wait until the page is drawn: the lineage picture fills in from its JSON."""
    page.wait_for_load_state("load")
    if page.locator("#lineage-graph").count():
        expect(page.locator("#graph-status")).to_contain_text("dataset version")


def unreached_by_tab(page) -> list[str]:
    """Press Tab through the page (from its top) and return the visible controls that
    never got the focus; of a group of radio buttons one stop is enough (arrow keys move
    within it)."""
    total = page.evaluate(
        """(selector) => {
            // not inside a closed <details> (open it first: its summary is a stop)
            const visible = el => el.checkVisibility({visibilityProperty: true});
            const wanted = [...document.querySelectorAll(selector)].filter(visible);
            wanted.forEach((el, i) => { el.dataset.kb = String(i); });
            window.__reached = new Set();
            document.addEventListener("focusin", event => {
                const el = event.target.closest("[data-kb]");
                if (el) { window.__reached.add(el.dataset.kb); }
            });
            document.activeElement && document.activeElement.blur();
            return wanted.length;
        }""",
        FOCUSABLE,
    )
    for _ in range(2 * total + 20):  # a date-time field takes a stop per part
        page.keyboard.press("Tab")
    return page.evaluate(
        """() => {
            const missed = [];
            const radios = new Set();
            document.querySelectorAll("[data-kb]").forEach(el => {
                if (el.type === "radio") {
                    const group = el.name;
                    if (window.__reached.has(el.dataset.kb)) { radios.add(group); }
                }
            });
            document.querySelectorAll("[data-kb]").forEach(el => {
                if (window.__reached.has(el.dataset.kb)) { return; }
                if (el.type === "radio" && radios.has(el.name)) { return; }
                missed.push(el.outerHTML.slice(0, 120));
            });
            return missed;
        }"""
    )


def test_every_console_page_passes_axe_and_is_walked_by_keyboard(demo_server, new_page):
    pages = console_pages()
    signed = {}
    for name, username, path in pages:
        if username not in signed:
            signed[username] = (new_page(), new_page(viewport=NARROW))
            for each in signed[username]:
                sign_in(each, demo_server, username)
        wide, narrow = signed[username]
        response = wide.goto(f"{demo_server}{path}")
        expected = 404 if name == "not-found" else 200
        assert response.status == expected, (path, response.status)
        settle(wide)
        check_axe(wide)
        missed = unreached_by_tab(wide)
        assert not missed, f"{path}: not reached with Tab: {missed}"

        narrow.goto(f"{demo_server}{path}")
        settle(narrow)
        check_axe(narrow)
        width = narrow.evaluate("document.documentElement.scrollWidth")
        assert width <= NARROW["width"], f"{path} scrolls sideways on a narrow window ({width}px)"
        shot(narrow, f"every-{name}-narrow", full_page=True)


def test_the_sign_in_page_passes_axe(demo_server, page):
    page.goto(f"{demo_server}/login/")
    check_axe(page)
    assert not unreached_by_tab(page)


def test_a_message_after_an_action_is_a_live_region_that_passes_axe(demo_server, page):
    risk = Risk.objects.get(title="Score drift when the bureau data changes")
    sign_in(page, demo_server, "engineer")
    page.goto(f"{demo_server}/risks/{risk.pk}/")
    page.get_by_role("button", name="Record a review").click()
    status = page.get_by_role("status").filter(has_text="review")
    expect(status).to_be_visible()
    expect(page.locator(".messages ul li")).to_have_count(1)
    check_axe(page)


def test_the_board_member_finds_the_incident_whose_report_is_overdue(demo_server, page):
    sign_in(page, demo_server, "board")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    page.get_by_role("link", name="report overdue").click()
    overdue = page.locator("#main tbody tr.row-overdue")
    expect(overdue).to_have_count(1)
    expect(overdue).to_contain_text(OVERDUE_REPORT_INCIDENT)
    expect(overdue.locator(".clock.overdue")).to_contain_text("overdue")
    check_axe(page)
    overdue.get_by_role("link").first.click()
    expect(page.locator("h1")).to_contain_text(OVERDUE_REPORT_INCIDENT)
    expect(page.locator(".clock-card .clock.overdue")).to_be_visible()
    check_axe(page)
    shot(page, "incident-overdue", full_page=True)


def test_the_engineer_follows_the_lineage_from_a_model_version_to_revoked_data(demo_server, page):
    sign_in(page, demo_server, "engineer")
    page.goto(f"{demo_server}/models/loan-default/")
    page.get_by_role("link", name="Lineage of v2").click()
    expect(page.locator("h1")).to_have_text("Lineage of loan-default@2")
    expect(page.locator("#graph-status")).to_contain_text("1 revoked or quarantined")
    check_axe(page)
    shot(page, "lineage-loan-default-2")

    page.locator("details.node-list summary").click()
    revoked = page.locator("#node-list li").filter(has=page.locator(".badge.bad"))
    expect(revoked).to_have_count(1)
    expect(revoked).to_contain_text("revoked")
    revoked.get_by_role("link").click()

    expect(page.locator("h1 .badge")).to_have_text("revoked")
    expect(page.locator(".impact-summary")).to_contain_text("holds back 2 model versions")
    expect(page.locator(".impact-list")).to_contain_text("loan-default@2")
    check_axe(page)
    shot(page, "dataset-version-revoked", full_page=True)


def tab_to(page, selector: str, limit: int = 150) -> None:
    """Press Tab until the focused element matches ``selector``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"{selector} is not reached with Tab in {limit} presses on {page.url}")


def test_an_approver_decides_from_home_with_the_keyboard_only(demo_server, page):
    pending = DeploymentRequest.objects.get(
        status="pending", model_version__model__name="loan-default", environment__name="production"
    )
    sign_in(page, demo_server, "approver2")
    tab_to(page, f"a[href='/requests/{pending.pk}/']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{demo_server}/requests/{pending.pk}/")
    tab_to(page, "#approve-comment")
    page.keyboard.type("Reviewed with the keyboard.")
    tab_to(page, "button[name=approve]")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Your approval is recorded.")
    assert pending.approvals.filter(approver__username="approver2").exists()
