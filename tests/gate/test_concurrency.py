"""Concurrent approvals and duplicate pipeline reports on the real PostgreSQL."""

import threading
from collections import Counter

import pytest
from django.db import connection

from accounts.roles import Role
from registry.gate import services
from registry.models import Approval, Deployment, DeploymentRequest
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(calls):
    """Run each call in its own thread (its own database connection), all at once."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = ("ok", call())
        except Exception as exc:  # the outcome under test, collected per call
            results[index] = (type(exc).__name__, exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_twenty_simultaneous_approvals_and_duplicate_deployed(team, pipeline, version):
    approvers = [
        UserFactory(username=f"approver{i}", groups=[team, Role.APPROVER]) for i in range(10)
    ]
    request = services.create_request(
        model_version=version, environment=_production(), user=pipeline
    )
    assert request.status == "pending"

    # each of ten approvers clicks twice at the same moment: twenty calls
    calls = [(lambda user=user: services.approve(request.pk, user, "ok")) for user in approvers * 2]
    outcomes = Counter(kind for kind, _ in run_together(calls))

    assert outcomes == {"ok": 10, "GateConflict": 10}
    assert Approval.objects.filter(request=request).count() == 10
    assert Approval.objects.filter(request=request).values("approver").distinct().count() == 10
    request.refresh_from_db()
    assert request.status == "approved"
    assert request.required == [{"role": "approver", "count": 2, "have": 2, "missing": 0}]

    reports = run_together(
        [(lambda: services.mark_deployed(request.pk, pipeline, "argo")) for _ in range(8)]
    )

    assert {kind for kind, _ in reports} == {"ok"}
    created = [value[1] for _, value in reports]
    assert created.count(True) == 1
    deployment_ids = {value[0].deployment_id for _, value in reports}
    assert len(deployment_ids) == 1
    assert Deployment.objects.count() == 1
    assert DeploymentRequest.objects.get(pk=request.pk).deployment_id == deployment_ids.pop()


def _production():
    from registry.models import Environment

    return Environment.objects.get(name="production")


def test_simultaneous_asks_share_one_open_request(team, pipeline, version):
    """A CI job and its re-runs ask at the same moment: one request, the others get it."""
    askers = [pipeline] + [
        UserFactory(username=f"ci-{i}", groups=[team, Role.PIPELINE]) for i in range(9)
    ]
    production = _production()

    outcomes = run_together(
        [
            (
                lambda user=user: services.ask(
                    model_version=version, environment=production, user=user
                )
            )
            for user in askers
        ]
    )

    assert {kind for kind, _ in outcomes} == {"ok"}
    answers = [value for _, value in outcomes]
    assert len({request.pk for request, _ in answers}) == 1
    assert [created for _, created in answers].count(True) == 1
    assert DeploymentRequest.objects.count() == 1


def test_every_duplicate_deployed_answer_names_the_deployment(team, pipeline, version, alice, bob):
    """Issue #18: of 19 simultaneous ``deployed`` reports, some answered
    ``"deployment": null`` although the deployment existed."""
    from registry.gate.api import request_body

    request = services.create_request(
        model_version=version, environment=_production(), user=pipeline
    )
    services.approve(request.pk, alice, "ok")
    services.approve(request.pk, bob, "ok")

    def report():
        answer, created = services.mark_deployed(request.pk, pipeline, "argo")
        return request_body(answer), created

    reports = run_together([report for _ in range(19)])

    assert {kind for kind, _ in reports} == {"ok"}
    deployment = Deployment.objects.get()
    bodies = [value[0] for _, value in reports]
    assert [body["deployment"] and body["deployment"]["id"] for body in bodies] == [
        deployment.pk
    ] * 19
    assert [value[1] for _, value in reports].count(True) == 1
