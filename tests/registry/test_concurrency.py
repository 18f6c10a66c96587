"""Concurrent deploys of one model queue on the model's row lock (PostgreSQL); each
goes to production through its own approved deployment request."""

import threading

import pytest
from django.db import connection

from registry import services
from registry.models import Deployment, Environment
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
