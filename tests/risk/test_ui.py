"""The risk register's pages through Django's test client: the register with its
filters, the heat map, one risk, and the forms that decide acceptances and record
reviews (through ``risk.services``, audited). The browser journey is
tests/browser/test_risks.py."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from audit.models import AuditEvent
from risk import services
from risk.models import Risk, RiskAcceptance
from tests.factories import UserFactory
from tests.risk.factories import make_model, make_risk

pytestmark = pytest.mark.django_db


@pytest.fixture
def approver(team):
    return UserFactory(username="ada", groups=[team, Role.APPROVER])


@pytest.fixture
def board(db):
    return UserFactory(username="bea", groups=[Role.BOARD])


@pytest.fixture
def model(team):
    return make_model(team, risk_tier="limited", name="support-llm")


@pytest.fixture
def risk(team, owner, model):
    # residual high (4 x 3) against a medium appetite
    return make_risk(
        team,
        owner,
        title="Refusal rate rises on long prompts",
        residual_likelihood=4,
        residual_impact=3,
        appetite="medium",
        links={"ml_models": [model]},
    )


@pytest.fixture
def acceptance(risk, member):
    return services.request_acceptance(
        risk,
        member,
        justification="human fallback until the retrain",
        expires_at=timezone.now() + timedelta(days=30),
    )


def browser(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def test_anonymous_is_sent_to_sign_in(client, risk):
    for url in ("/risks/", "/risks/heatmap/", f"/risks/{risk.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_outsider_gets_404_on_another_teams_risk_and_sees_none_listed(risk, outsider):
    as_outsider = browser(outsider)
    assert as_outsider.get(f"/risks/{risk.pk}/").status_code == 404
    page = text(as_outsider.get("/risks/"))
    assert risk.title not in page and "No risk you may see" in page
    assert as_outsider.post(f"/risks/{risk.pk}/review", {"notes": "x"}).status_code == 404


def test_the_team_and_the_board_see_the_risk_page(risk, member, board, acceptance):
    for user in (member, board):
        page = text(browser(user).get(f"/risks/{risk.pk}/"))
        assert risk.title in page
        assert "Likely x Moderate" in page  # the matrix's words for the residual cell
        assert "residual above appetite" in page.lower()
        assert f"acceptance #{acceptance.pk}" in page
        assert "<h2>History</h2>" in page and "risk.risk #" in page


def test_approving_an_acceptance_through_the_page_is_an_audited_decision(
    risk, acceptance, approver
):
    as_approver = browser(approver)
    page = text(as_approver.get(f"/risks/{risk.pk}/"))
    assert "Approve acceptance</button>" in page and 'name="csrfmiddlewaretoken"' in page

    response = as_approver.post(
        f"/risks/acceptances/{acceptance.pk}/approve", {"comment": "agreed until the retrain"}
    )
    assert response.status_code == 302 and response["Location"] == f"/risks/{risk.pk}/"
    page = text(as_approver.get(response["Location"]))
    assert "Your approval is recorded; the risk is now accepted." in page
    acceptance.refresh_from_db()
    risk.refresh_from_db()
    assert acceptance.status == "accepted" and risk.status == "accepted"
    event = AuditEvent.objects.get(action="risk.acceptance.approve", object_id=str(acceptance.pk))
    assert event.actor_username == "ada"
    assert event.after["comment"] == "agreed until the retrain"


def test_rejecting_needs_a_comment_and_is_audited(risk, acceptance, approver):
    as_approver = browser(approver)
    as_approver.post(f"/risks/acceptances/{acceptance.pk}/reject", {"comment": ""})
    page = text(as_approver.get(f"/risks/{risk.pk}/"))
    assert "comment" in page.lower() and "msg-error" in page
    acceptance.refresh_from_db()
    assert acceptance.status == "requested"

    as_approver.post(f"/risks/acceptances/{acceptance.pk}/reject", {"comment": "retrain first"})
    acceptance.refresh_from_db()
    assert acceptance.status == "rejected"
    event = AuditEvent.objects.get(action="risk.acceptance.reject", object_id=str(acceptance.pk))
    assert (event.actor_username, event.after["comment"]) == ("ada", "retrain first")


def test_refusals_are_messages_never_errors(risk, acceptance, owner, member, board):
    # the owner may not decide on an acceptance of their own risk (separation of duties)
    page = text(browser(owner).get(f"/risks/{risk.pk}/"))
    assert "Approve acceptance</button>" not in page
    for user in (owner, member, board):
        client = browser(user)
        response = client.post(f"/risks/acceptances/{acceptance.pk}/approve", {"comment": "ok"})
        assert response.status_code == 302
        assert "msg-error" in text(client.get(response["Location"]))
    acceptance.refresh_from_db()
    assert acceptance.status == "requested" and not acceptance.approvals.exists()
    # the board reads but does not review
    client = browser(board)
    client.post(f"/risks/{risk.pk}/review", {"notes": "fine"})
    assert "Only the owning team records a review" in text(client.get(f"/risks/{risk.pk}/"))


def test_forms_need_the_csrf_token(risk, acceptance, approver):
    client = browser(approver, enforce_csrf_checks=True)
    assert client.post(f"/risks/acceptances/{acceptance.pk}/approve", {}).status_code == 403
    assert client.post(f"/risks/{risk.pk}/review", {}).status_code == 403
    assert RiskAcceptance.objects.get(pk=acceptance.pk).status == "requested"


def test_a_review_through_the_page_moves_the_next_review(risk, member):
    before = risk.next_review_date
    client = browser(member)
    response = client.post(f"/risks/{risk.pk}/review", {"notes": "still mitigated"})
    assert response.status_code == 302
    risk.refresh_from_db()
    assert risk.next_review_date > before or risk.last_reviewed_at is not None
    assert "Your review is recorded" in text(client.get(f"/risks/{risk.pk}/"))
    event = AuditEvent.objects.get(action="risk.review", object_id=str(risk.pk))
    assert (event.actor_username, event.after["notes"]) == ("mark", "still mitigated")


def test_the_register_filters(team, owner, model, board, risk):
    calm = make_risk(team, owner, title="Calm risk", residual_likelihood=1, residual_impact=1)
    closed = make_risk(team, owner, title="Old closed risk", status="closed")
    client = browser(board)

    page = text(client.get("/risks/"))
    assert risk.title in page and calm.title in page and closed.title not in page
    page = text(client.get("/risks/?above_appetite=true"))
    assert risk.title in page and calm.title not in page
    page = text(client.get("/risks/?q=calm"))  # title, description or hypothesis
    assert calm.title in page and risk.title not in page
    page = text(client.get("/risks/?level=low&team=credit-risk"))
    assert calm.title in page and risk.title not in page
    page = text(client.get("/risks/?model=support-llm"))
    assert risk.title in page and calm.title not in page
    page = text(client.get("/risks/?status=all"))
    assert closed.title in page
    page = text(client.get("/risks/?level=bogus"))
    assert "Some filters were not understood" in page


def test_a_heat_map_cell_links_to_the_register_narrowed_to_it(team, owner, board, risk):
    make_risk(team, owner, title="Elsewhere", residual_likelihood=1, residual_impact=1)
    client = browser(board)
    page = text(client.get("/risks/heatmap/"))
    cell = "/risks/?residual_likelihood=4&amp;residual_impact=3"
    assert f'href="{cell}"' in page and "heat-high" in page
    page = text(client.get("/risks/?residual_likelihood=4&residual_impact=3"))
    assert risk.title in page and "Elsewhere" not in page and 'id="cell-filter"' in page

    page = text(client.get("/risks/heatmap/?axis=inherent&team=credit-risk"))
    assert 'href="/risks/?team=credit-risk&amp;inherent_likelihood=4&amp;inherent_impact=4"' in page


def many_risks(team, owner, model, n):
    for i in range(n):
        make_risk(team, owner, title=f"bulk {i}", links={"ml_models": [model]})


@pytest.mark.parametrize("url", ["/risks/", "/risks/heatmap/", "/risks/?above_appetite=true"])
def test_register_and_heat_map_queries_do_not_grow_with_the_risks(
    django_assert_max_num_queries, team, owner, model, member, url
):
    many_risks(team, owner, model, 3)
    client = browser(member)
    client.get(url)  # session, permission caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    many_risks(team, owner, model, 297)
    assert Risk.objects.count() == 300
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url).status_code == 200


def test_the_risk_page_queries_do_not_grow_with_acceptances_and_thresholds(
    django_assert_max_num_queries, risk, member, approver, model
):
    def add_decided(n):
        for _ in range(n):
            acceptance = services.request_acceptance(
                risk,
                member,
                justification="for a while",
                expires_at=timezone.now() + timedelta(days=3),
            )
            services.decide_acceptance(acceptance, approver, verdict="reject", comment="no")

    add_decided(3)
    client = browser(member)
    client.get(f"/risks/{risk.pk}/")
    with CaptureQueriesContext(connection) as small:
        assert client.get(f"/risks/{risk.pk}/").status_code == 200
    add_decided(27)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(f"/risks/{risk.pk}/").status_code == 200
