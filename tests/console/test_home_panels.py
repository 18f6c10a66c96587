"""The home page's panels ("what needs me"), each scoped to the user who asks, and a
bounded number of queries whatever the data size."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from lineage.choices import VersionStatus
from lineage.models import DatasetVersion
from playbooks.choices import SeriousCategory, Severity
from playbooks.services import incidents
from registry import services
from registry.gate import services as gate
from registry.models import DeploymentRequest
from tests.conftest import token_client
from tests.console.conftest import fleet, make_version, person
from tests.gate.conftest import training_lineage

pytestmark = pytest.mark.django_db


def ask(pipeline, version, environment="production"):
    response = token_client(pipeline).post(
        "/api/deployment-requests/",
        {"model": version.model.name, "version": version.version, "environment": environment},
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    return DeploymentRequest.objects.get(pk=response.json()["id"])


def home(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def panel(html: str, title: str) -> str:
    """The HTML of the panel titled ``title`` (up to the next panel)."""
    start = html.index(title)
    end = html.find('<section class="card panel', start)
    return html[start : end if end != -1 else len(html)]


@pytest.fixture
def pending(pipeline, loan_model, engineer):
    version = make_version(loan_model, "1", engineer)
    deployment_request = ask(pipeline, version)
    assert deployment_request.status == "pending"
    return deployment_request


def test_an_approver_sees_the_request_waiting_for_them_until_they_decide(signed_in, alice, pending):
    client = signed_in(alice)
    mine = panel(home(client), "Requests awaiting my approval")
    assert f'href="/requests/{pending.pk}/"' in mine

    gate.approve(pending.pk, alice, "reviewed")
    assert f'href="/requests/{pending.pk}/"' not in panel(
        home(client), "Requests awaiting my approval"
    )


def test_separation_of_duties_keeps_the_registrant_and_other_teams_out(
    signed_in, team, other_team, pipeline, loan_model
):
    registrant = person("carol", team, Role.APPROVER, Role.ML_ENGINEER)
    stranger = person("frank", other_team, Role.APPROVER)
    deployment_request = ask(pipeline, make_version(loan_model, "1", registrant))
    link = f'href="/requests/{deployment_request.pk}/"'
    assert link not in panel(home(signed_in(registrant)), "Requests awaiting my approval")
    assert link not in panel(home(signed_in(stranger)), "Requests awaiting my approval")


def test_the_board_sees_pending_requests_without_an_approve_form(signed_in, board, pending):
    html = home(signed_in(board))
    assert "Requests awaiting my approval" not in html
    assert f'href="/requests/{pending.pk}/"' in panel(html, "Deployment requests pending")


def test_the_live_matrix_marks_an_open_incident_and_revoked_training_data(
    signed_in, board, engineer, team, staging
):
    healthy, ill, tainted = fleet(team, 3, prefix="m")
    incident = incidents.open_incident(model=ill, title="drift", severity=Severity.HIGH)
    # the third model's version 2 is trained on its own data, which is then revoked
    run = training_lineage("tainted", author=None)
    services.deploy(make_version(tainted, "2", engineer, run=run), staging, engineer)
    upstream = DatasetVersion.objects.filter(dataset__name="tainted/raw/applications")
    assert upstream.update(status=VersionStatus.REVOKED) == 1
    html = panel(home(signed_in(board)), "Live now")

    def row(model):
        start = html.index(f'href="/models/{model.name}/"')
        return html[start : html.find("</tr>", start)]

    assert "badge ok" in row(healthy) and ">incident<" not in row(healthy)
    assert f'href="/incidents/{incident.pk}/"' in row(ill) and ">incident<" in row(ill)
    assert ">revoked data<" in row(tainted)
    assert ">revoked data<" not in row(healthy) and ">revoked data<" not in row(ill)


def test_open_incidents_show_the_report_clock_overdue_in_red(signed_in, engineer, loan_model):
    now = timezone.now()
    late = incidents.open_incident(model=loan_model, title="declines everyone")
    incidents.mark_serious(
        late, engineer, category=SeriousCategory.WIDESPREAD, aware_at=now - timedelta(days=3)
    )
    html = home(signed_in(engineer))
    opened = panel(html, "Open incidents")
    assert f'href="/incidents/{late.pk}/"' in opened
    assert "overdue" in opened and "clock overdue" in opened
    assert f'href="/incidents/{late.pk}/"' in panel(html, "Serious-incident reports not yet sent")


def test_changes_since_my_last_visit_show_only_what_i_may_see(
    signed_in, engineer, outsider, board, loan_model, fraud_model
):
    mine = panel(home(signed_in(engineer)), "Changes in the last 7 days")
    assert "loan-default" in mine and "card-fraud" not in mine
    theirs = panel(home(signed_in(outsider)), "Changes in the last 7 days")
    assert "card-fraud" in theirs and "loan-default" not in theirs
    everything = panel(home(signed_in(board)), "Changes in the last 7 days")
    assert "card-fraud" in everything and "loan-default" in everything


def test_changes_start_at_the_previous_sign_in(client, engineer, loan_model):
    engineer.last_login = timezone.now() + timedelta(seconds=1)  # signed in after the changes
    engineer.save(update_fields=["last_login"])
    client.post("/login/", {"username": "olivia", "password": "console-pass-2468"})
    changes = panel(home(client), "Changes since my last visit")
    assert "Nothing changed that you may see." in changes


@pytest.mark.parametrize("who", ["board", "alice", "engineer"])
def test_the_home_page_reads_the_same_number_of_queries_for_3_and_300_models(
    request, signed_in, who, team, django_assert_max_num_queries
):
    client = signed_in(request.getfixturevalue(who))
    fleet(team, 3, prefix="small")
    with CaptureQueriesContext(connection) as captured:
        home(client)
    few = len(captured)
    fleet(team, 297, prefix="large")
    with django_assert_max_num_queries(few):
        html = home(client)
    assert "large-" in html or "small-" in html
