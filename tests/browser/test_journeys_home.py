"""Journeys through the home page, the model pages and the audit trail in a real
browser, on the demo story (``seed_demo``), with axe-core on every page."""

from registry.models import DeploymentRequest
from tests.browser.conftest import check_axe, shot, sign_in


def test_the_approver_decides_a_pending_request_from_home_in_three_clicks(demo_server, page):
    pending = DeploymentRequest.objects.get(
        status="pending", model_version__model__name="loan-default", environment__name="production"
    )
    sign_in(page, demo_server, "approver2")
    check_axe(page)
    shot(page, "home-approver2")

    clicks = 0
    page.click(f"a[href='/requests/{pending.pk}/']")  # the panel "Requests awaiting my approval"
    clicks += 1
    page.wait_for_selector("#approve-comment")
    page.fill("#approve-comment", "Card, lineage and evaluations reviewed.")
    page.click("button[name=approve]")
    clicks += 1
    page.wait_for_selector(".msg-success")
    assert clicks <= 3
    assert "approver2" in page.inner_text("#approvals")
    pending.refresh_from_db()
    assert pending.approvals.filter(approver__username="approver2").exists()

    page.goto(f"{demo_server}/")  # decided: it no longer waits for this approver
    assert page.locator(f"a[href='/requests/{pending.pk}/']").count() == 0 or (
        "Requests awaiting my approval" not in page.inner_text("main")
    )


def test_the_auditor_downloads_the_dossier_from_the_model_page(demo_server, page):
    sign_in(page, demo_server, "auditor")
    check_axe(page)
    shot(page, "home-auditor")
    page.click("a[href='/models/loan-default/']")  # from the live-now matrix
    page.wait_for_selector("#dossier-pdf")
    check_axe(page)
    shot(page, "model-loan-default")
    with page.expect_download() as download_info:
        page.click("#dossier-pdf")
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    page.goto(f"{demo_server}/audit/?object_type=registry.mlmodel")
    page.wait_for_selector("table")
    assert "registry.mlmodel" in page.inner_text("main")
    check_axe(page)
    shot(page, "audit-trail")


def test_an_outsider_gets_404_on_another_teams_model_page(demo_server, page):
    sign_in(page, demo_server, "engineer")  # credit-risk's ML engineer
    response = page.goto(f"{demo_server}/models/card-fraud/")  # fraud-detection's model
    assert response.status == 404
    response = page.goto(f"{demo_server}/models/loan-default/")
    assert response.status == 200
    page.goto(f"{demo_server}/models/")
    assert page.locator("a[href='/models/card-fraud/']").count() == 0
    check_axe(page)
    shot(page, "models-engineer")


def test_every_page_of_home_models_and_audit_passes_axe_for_each_role(demo_server, new_page):
    pages = {
        "board": ["/", "/models/", "/models/loan-default/", "/models/?risk_tier=high", "/audit/"],
        "approver": ["/"],
        "admin": ["/", "/audit/?action=gate."],
    }
    for username, paths in pages.items():
        page = new_page()
        sign_in(page, demo_server, username)
        for path in paths:
            response = page.goto(f"{demo_server}{path}")
            assert response.status == 200, path
            check_axe(page)
        narrow = new_page(viewport={"width": 420, "height": 800})
        sign_in(narrow, demo_server, username)
        check_axe(narrow)
        shot(narrow, f"home-{username}-narrow")
