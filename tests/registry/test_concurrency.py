"""Concurrent deploys of one model queue on the model's row lock (PostgreSQL); each
goes to production through its own approved deployment request. Concurrent
registrations of one label store one version and one audit event."""

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from audit.models import AuditEvent
from registry import services
from registry.models import Deployment, Environment, ModelVersion
from tests.factories import TeamFactory, UserFactory
from tests.registry.conftest import make_model, make_version
from tests.registry.shipping import approved_request
from tests.registry.story import ds, emit_run, md5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deploys_leave_exactly_one_live():
    team = TeamFactory(name="credit-risk")
    user = UserFactory(username="olivia", groups=[team, "ml-engineer"])
    run = emit_run("train", [ds("t", md5("t"))], [])
    model = make_model(team, "loan-default")
    versions = [make_version(model, run, str(i)) for i in range(1, 7)]
    production = Environment.objects.get(name="production")
    requests = {v.pk: approved_request(v, production, user) for v in versions}
    barrier = threading.Barrier(len(versions))
    errors = []

    def deploy(version):
        try:
            barrier.wait()
            services.deploy(version, production, user, deployment_request=requests[version.pk])
        except Exception as exc:  # any failure fails the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deploy, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    deployments = list(Deployment.objects.filter(model=model).order_by("pk"))
    assert len(deployments) == len(versions)
    assert [d.state for d in deployments].count("live") == 1
    # Each deployment replaced the one that was live just before it: one unbroken chain.
    assert [d.replaced_id for d in deployments] == [None, *[d.pk for d in deployments[:-1]]]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_label_store_one_version_and_one_event(
    client_for, owner, model, chain
):
    """Six pipelines register the same label at once through the API, each with its
    version and audit event in one statement outside any transaction: the unique
    constraint lets one in (201), the others are 400s on ``version``, and neither the
    version nor its event is written twice; the chain verifies."""
    body = {
        "model": model.name,
        "version": "same",
        "artifact_uri": "s3://models/same.pkl",
        "artifact_digest": "sha256:" + "ab" * 32,
        "training_run": str(chain["training_run"].run_id),
    }
    clients = [client_for(owner) for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    answers, errors = [], []

    def register(client):
        try:
            barrier.wait()
            answer = client.post("/api/model-versions/", body, format="json")
            answers.append((answer.status_code, answer.json()))
        except Exception as exc:  # any failure fails the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(status for status, _ in answers) == [201, 400, 400, 400, 400, 400]
    for status, answer in answers:
        if status == 400:
            assert "already has a version" in answer["fields"]["version"][0]
    [stored] = ModelVersion.objects.filter(model=model, version="same")
    events = AuditEvent.objects.filter(object_type="registry.modelversion", action="create")
    assert list(events.values_list("object_id", flat=True)) == [str(stored.pk)]
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert f"verified {AuditEvent.objects.count()} audit events" in out.getvalue()
