"""The board's pages, through Django's test client (the browser test is test_browser.py)."""

import pytest
from django.test import Client

from registry.gate import ui
from tests.gate.conftest import ask

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(api, pipeline, version):
    return ask(api(pipeline), version).json()["id"]


def browser(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_anonymous_is_sent_to_login(client):
    for url in ("/", "/requests/", "/requests/1/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_the_list_shows_what_each_user_may_see(pending, alice, outsider, auditor):
    for user in (alice, auditor):
        page = browser(user).get("/")
        assert page.status_code == 200
        assert f"/requests/{pending}/" in page.content.decode()
    page = browser(outsider).get("/requests/").content.decode()
    assert f"/requests/{pending}/" not in page and "No pending deployment request" in page
    assert browser(outsider).get(f"/requests/{pending}/").status_code == 404


def test_the_request_page_shows_lineage_checks_and_approvals(pending, alice):
    page = browser(alice).get(f"/requests/{pending}/").content.decode()

    assert "loan-default version 7 to production" in page
    assert "loans/raw/applications" in page and "md5:" in page  # dataset versions + hashes
    assert "approvals-complete" in page and "2 more approver" in page
    assert 'name="csrfmiddlewaretoken"' in page and ">Approve</button>" in page


def test_approving_and_rejecting_through_the_forms(pending, alice, bob, carol):
    as_alice, as_bob = browser(alice), browser(bob)
    assert as_alice.post(f"/requests/{pending}/approve", {"comment": "fine"}).status_code == 302
    page = as_alice.get(f"/requests/{pending}/").content.decode()
    assert "Your approval is recorded." in page and "1/2 approver" in page
    as_alice.post(f"/requests/{pending}/approve", {"comment": "again"})
    assert "already decided" in as_alice.get(f"/requests/{pending}/").content.decode()

    # the registrant may look but not decide
    page = browser(carol).get(f"/requests/{pending}/").content.decode()
    assert "Separation of duties: you registered this version." in page
    assert ">Approve</button>" not in page

    as_bob.post(f"/requests/{pending}/reject", {"comment": ""})
    assert "A rejection needs a comment" in as_bob.get(f"/requests/{pending}/").content.decode()
    as_bob.post(f"/requests/{pending}/reject", {"comment": "Fairness report missing."})
    page = as_bob.get(f"/requests/{pending}/").content.decode()
    assert 'id="request-status">denied' in page
    assert "rejected by bob: Fairness report missing." in page


def test_forms_need_the_csrf_token(pending, alice):
    client = browser(alice, enforce_csrf_checks=True)
    assert client.post(f"/requests/{pending}/approve", {"comment": "x"}).status_code == 403


def test_sections_registered_by_other_apps_are_shown(pending, alice, monkeypatch):
    monkeypatch.setattr(ui, "_sections", {})

    @ui.board_section("risks", order=10)
    def risks(deployment_request, user):
        return ui.Section(
            "Risks", columns=["risk", "score"], rows=[{"risk": "<b>drift</b>", "score": 12}]
        )

    page = browser(alice).get(f"/requests/{pending}/").content.decode()
    assert "<h2>Risks</h2>" in page
    assert "&lt;b&gt;drift&lt;/b&gt;" in page  # escaped, never trusted as HTML


# --- the decision page: everything needed to decide, on one page ----------------------


@pytest.fixture
def live_six(api, pipeline, loan_model, carol, alice, bob):
    """loan-default@6 serves in production, shipped through the gate (approved by alice
    and bob), trained on an older extract; then the card's limitations were rewritten."""
    from registry.gate import services as gate
    from tests.gate.conftest import make_version, training_lineage
    from tests.risk.factories import pass_required_evaluations

    six = make_version(loan_model, training_lineage("loans-2025", author=None), "6", carol)
    pass_required_evaluations(six, carol)
    request_id = ask(api(pipeline), six).json()["id"]
    gate.approve(request_id, alice, "fine")
    gate.approve(request_id, bob, "fine")
    gate.mark_deployed(request_id, pipeline)
    type(loan_model).objects.filter(pk=loan_model.pk).update(
        known_limitations="Thin-file applicants are declined."
    )
    return six


def evidence(version, n, reviewer, start=0):
    from risk.models import Evaluation

    for i in range(start, start + n):
        Evaluation.objects.create(
            model_version=version,
            kind="human-review" if i == 0 else "adversarial",
            name=f"case {i}",
            outcome="passed" if i % 3 else "failed",
            success_criterion="2 underwriters agree on 95%",
            reviewer=reviewer,
        )


def linked_risks(model, team, owner, n, start=0):
    from tests.risk.factories import make_risk

    for i in range(start, start + n):
        make_risk(
            team,
            owner,
            title=f"Risk number {i}",
            residual_likelihood=4 if i == 0 else 1,
            residual_impact=4 if i == 0 else 1,
            links={"ml_models": [model]},
        )


def test_the_decision_page_shows_evaluations_risks_incidents_and_what_changed(
    live_six, api, pipeline, version, loan_model, team, alice, carol
):
    from playbooks.models import Incident

    evidence(version, 3, alice)
    linked_risks(loan_model, team, carol, 2)
    Incident.objects.create(title="Drift alarm", model=loan_model, severity="critical")
    request_id = ask(api(pipeline), version).json()["id"]

    page = browser(alice).get(f"/requests/{request_id}/").content.decode()

    # summary first: status, approvals, failing checks; the decide box beside it
    assert page.index('id="request-status"') < page.index('id="failing-checks"')
    assert page.index('id="failing-checks"') < page.index('id="decide"') < page.index("<h2>Checks")
    assert 'id="replaces">version 6, live in production since' in page
    # evaluations: required kinds, results, reviewer
    assert "The high tier requires: Adversarial, Distributional stress, Human review." in page
    assert "Distributional stress (required)" in page and "missing" in page
    assert "case 1" in page and ">alice<" in page
    # risks with levels and acceptances; the one above appetite is marked
    assert "Risk number 0" in page and "high (4x4)" in page and "medium — above" in page
    assert "1 above appetite without a valid acceptance" in page
    # open incidents
    assert "Drift alarm" in page and "1 open, 1 blocking or overdue" in page
    # what changed against the live version: card and training data
    changes = page[page.index('id="changes"') :]
    assert "What changed against version 6 (live in production now)" in changes
    assert "Thin-file applicants are declined." in changes and "<strong>changed</strong>" in changes
    assert "s3://lake:loans/raw/applications" in changes and "added" in changes
    assert "s3://lake:loans-2025/raw/applications" in changes and "no longer used" in changes
    assert "Evaluations against the live version" in changes and "new test case" in changes


def test_my_eligibility_and_when_my_approval_would_lapse_are_shown_before_i_click(
    pending, alice, carol, outsider
):
    page = browser(alice).get(f"/requests/{pending}/").content.decode()
    decide = page[page.index('id="decide"') :]
    assert "You may approve: deploy of loan-default." in decide
    assert "Your approval would count towards: approver (0/2)." in decide
    assert "if you approve now" in decide

    browser(alice).post(f"/requests/{pending}/approve", {"comment": "fine"})
    decide = browser(alice).get(f"/requests/{pending}/").content.decode()
    assert 'id="my-decision">You approved on' in decide
    assert "You have already decided on this request (approve)." in decide
    assert ">Approve</button>" not in decide

    page = browser(carol).get(f"/requests/{pending}/").content.decode()
    assert "Separation of duties: you registered this version." in page


def test_the_decision_page_queries_do_not_grow_with_risks_and_evaluations(
    django_assert_max_num_queries, live_six, api, pipeline, version, loan_model, team, alice, carol
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    evidence(version, 3, alice)
    linked_risks(loan_model, team, carol, 3)
    request_id = ask(api(pipeline), version).json()["id"]
    client = browser(alice)
    client.get(f"/requests/{request_id}/")
    with CaptureQueriesContext(connection) as small:
        assert client.get(f"/requests/{request_id}/").status_code == 200

    evidence(version, 27, alice, start=3)
    linked_risks(loan_model, team, carol, 27, start=3)
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = client.get(f"/requests/{request_id}/").content.decode()
    assert "Risk number 29" in page and "case 29" in page
