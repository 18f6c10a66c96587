"""The model pages: /models/ (filters, pages, scoping) and /models/<name>/ (card,
versions, deployment timeline, registered sections, dossier links, history)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from registry import services
from tests.console.conftest import fleet, make_model, make_version, person

pytestmark = pytest.mark.django_db


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_the_list_shows_my_teams_models_with_where_they_serve(
    signed_in, engineer, loan_model, fraud_model, staging
):
    services.deploy(make_version(loan_model, "1"), staging, engineer)
    page = signed_in(engineer).get("/models/").content.decode()
    assert 'href="/models/loan-default/"' in page
    assert "card-fraud" not in page  # another team's model is not listed
    assert "staging" in page


def test_the_list_filters_by_team_tier_and_search(signed_in, board, team, other_team):
    make_model(team, "loan-default", "high")
    make_model(team, "credit-limit", "limited")
    make_model(other_team, "card-fraud", "limited")
    client = signed_in(board)

    def listed(query):
        html = client.get(f"/models/?{query}").content.decode()
        names = ("loan-default", "credit-limit", "card-fraud")
        return sorted(n for n in names if f'href="/models/{n}/"' in html)

    assert listed("") == ["card-fraud", "credit-limit", "loan-default"]
    assert listed("team=credit-risk") == ["credit-limit", "loan-default"]
    assert listed("risk_tier=limited") == ["card-fraud", "credit-limit"]
    assert listed("q=fraud") == ["card-fraud"]
    assert listed("team=credit-risk&risk_tier=limited") == ["credit-limit"]
    assert listed("team=no-such-team") == []  # an unknown choice shows nothing, not a 500


def test_an_outsider_gets_404_for_another_teams_model_page(signed_in, outsider, loan_model):
    response = signed_in(outsider).get("/models/loan-default/")
    assert response.status_code == 404
    assert signed_in(outsider).get("/models/no-such-model/").status_code == 404


def test_an_approver_granted_on_a_model_sees_its_page(signed_in, fraud_model, team):
    from accounts.permissions import grant_team_access

    approver = person("abe", team, Role.APPROVER)
    assert signed_in(approver).get("/models/card-fraud/").status_code == 404
    grant_team_access(fraud_model, team, actions=("approve",))
    assert signed_in(approver).get("/models/card-fraud/").status_code == 200


def test_the_model_page_shows_card_versions_timeline_dossier_and_history(
    signed_in, engineer, board, loan_model, staging
):
    v1 = make_version(loan_model, "1", engineer)
    v2 = make_version(loan_model, "2", engineer)
    services.deploy(v1, staging, engineer)
    services.deploy(v2, staging, engineer)
    back = services.rollback(loan_model, staging, engineer, note="v2 misbehaves")
    assert back.model_version == v1
    html = signed_in(board).get("/models/loan-default/").content.decode()

    assert loan_model.intended_use in html  # the card
    assert "v1" in html and "v2" in html  # the versions
    assert "rollback" in html and "v2 misbehaves" in html  # the timeline
    assert "Rolled back" in html  # v2's deployment, taken down
    assert "/api/models/loan-default/dossier?version=2&amp;format=pdf" in html
    assert "/api/models/loan-default/dossier?version=1&amp;format=json" in html
    # the history lists the model's own events and its versions' and deployments'
    assert "registry.mlmodel #" in html
    assert "registry.modelversion #" in html
    assert "deployment.rollback" in html or "registry.deployment #" in html
    # sections the apps above register
    assert 'id="section-evaluations"' in html
    assert 'id="section-risks"' in html
    assert 'id="section-incidents"' in html


def test_the_model_list_reads_the_same_number_of_queries_for_3_and_300_models(
    signed_in, board, team, django_assert_max_num_queries
):
    client = signed_in(board)
    fleet(team, 3, prefix="small")
    few = queries(client, "/models/")
    fleet(team, 297, prefix="large")
    with django_assert_max_num_queries(few):
        client.get("/models/")
    with django_assert_max_num_queries(few):
        assert "Page 6 of 6" in client.get("/models/?page=6").content.decode()


def test_the_model_page_reads_the_same_number_of_queries_for_3_and_300_versions(
    signed_in, board, engineer, loan_model, staging, django_assert_max_num_queries
):
    client = signed_in(board)
    for label in range(1, 4):
        services.deploy(make_version(loan_model, str(label), engineer), staging, engineer)
    few = queries(client, "/models/loan-default/")
    for label in range(4, 301):
        services.deploy(make_version(loan_model, str(label), engineer), staging, engineer)
    with django_assert_max_num_queries(few):
        assert client.get("/models/loan-default/").status_code == 200
