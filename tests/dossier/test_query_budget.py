"""The dossier's queries do not grow with the records in it: 3 or 30 versions,
deployments, risks with controls and acceptances, evaluations, incidents."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from playbooks.models import Incident, PostIncidentReview
from registry.models import Deployment, Environment
from risk.models import Control, Evaluation, Threshold
from risk.services import request_acceptance
from tests.conftest import token_client
from tests.dossier.conftest import add_risk, add_version

pytestmark = pytest.mark.django_db


def grow(model, version, owner, count, first=0):
    staging = Environment.objects.get_or_create(name="staging", defaults={"order": 20})[0]
    start = timezone.now() - timedelta(days=count + 1)
    for n in range(first, first + count):
        other = add_version(model, f"{n + 2}", version.training_run)
        Deployment.objects.create(
            model=model,
            model_version=other,
            environment=staging,
            state="superseded",
            deployed_at=start + timedelta(days=n),
            ended_at=start + timedelta(days=n, hours=1),
        )
        risk = add_risk(model, version, owner, title=f"risk {n}")
        Control.objects.create(risk=risk, title=f"control {n}", owner=owner)
        request_acceptance(
            risk, owner, justification="j", expires_at=timezone.now() + timedelta(days=30)
        )
        Threshold.objects.create(
            risk=risk,
            model_version=version,
            metric=f"metric_{n}",
            comparator="gt",
            warning_value=1,
            critical_value=2,
            hypothesis="h",
        )
        Evaluation.objects.create(
            model_version=version,
            kind="scenario",
            name=f"test {n}",
            outcome="passed",
            hypothesis="h",
            reviewer=owner,
        )
        incident = Incident.objects.create(title=f"incident {n}", model=model)
        PostIncidentReview.objects.create(incident=incident, summary="s", root_cause="r")


def queries(client, params):
    with CaptureQueriesContext(connection) as captured:
        answer = client.get("/api/models/loan-default/dossier", params)
    assert answer.status_code == 200, answer.content
    return len(captured)


@pytest.mark.parametrize("reader", ["auditor", "owner"])
def test_three_or_thirty_records_cost_the_same_queries(
    request, model, version, records, owner, reader
):
    client = token_client(request.getfixturevalue(reader))

    def as_of():
        return {"version": "1", "asOf": timezone.now().isoformat()}

    grow(model, version, owner, 3)
    queries(client, {"version": "1"})  # the token's first use and the per-process caches
    few, few_then = queries(client, {"version": "1"}), queries(client, as_of())
    grow(model, version, owner, 27, first=3)
    many, many_then = queries(client, {"version": "1"}), queries(client, as_of())
    assert many == few, f"{few} queries with 3 of each, {many} with 30"
    assert many_then == few_then, f"asOf: {few_then} queries with 3 of each, {many_then} with 30"
    assert few <= 45
