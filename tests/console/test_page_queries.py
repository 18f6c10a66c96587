"""Query counts of the console's pages do not grow with the data: each page is read with
3 records of what it lists and again with 300, and the second reading may not ask the
database more often than the first.

Pages covered here: the deployment request list, the drill board and a drill, the
lineage start page (its revoked and quarantined list), the lineage picture page, and
the dataset version page (its readers and the model versions it feeds). The other pages
have theirs beside their other tests: home (test_home_panels), the model list and page
(test_model_pages), the audit trail (test_audit_pages), the decision page
(tests/gate/test_board_ui), the risk register, heat map and risk page (tests/risk/test_ui),
the incident board and page (tests/playbooks/test_ui), the graph JSON at 500 nodes
(tests/lineage/test_ui)."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lineage import graph
from lineage.models import Dataset, DatasetVersion, Job, Namespace, Run, RunInput
from playbooks.models import Drill, Playbook
from playbooks.services.playbooks import save_playbook
from playbooks.services.reviews import save_drill
from registry.models import DeploymentRequest, Environment, ModelVersion
from tests.console.conftest import make_model, make_version

pytestmark = pytest.mark.django_db


def bounded(client, url, grow, django_assert_max_num_queries):
    """Read ``url`` at 3 records, call ``grow()`` (to 300), read again: no more queries."""
    client.get(url)  # the session and the content types are read once
    with CaptureQueriesContext(connection) as three:
        assert client.get(url).status_code == 200
    grow()
    with django_assert_max_num_queries(len(three.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def requests_for(version, environments, count, user, *, start=0):
    DeploymentRequest.objects.bulk_create(
        DeploymentRequest(
            model_version=version,
            environment=environments[number % len(environments)],
            requested_by=user,
            status="denied",
            outcome="denied",
        )
        for number in range(start, start + count)
    )


def test_the_request_list_reads_as_often_for_3_and_300_requests(
    signed_in, alice, engineer, loan_model, django_assert_max_num_queries
):
    version = make_version(loan_model, "1", engineer)
    environments = list(Environment.objects.all())
    requests_for(version, environments, 3, engineer)
    page = bounded(
        signed_in(alice),
        "/requests/?status=all",
        lambda: requests_for(version, environments, 297, engineer, start=3),
        django_assert_max_num_queries,
    )
    assert DeploymentRequest.objects.count() == 300
    assert page.count("loan-default") >= 50


def _playbook(team, engineer):
    book = Playbook(
        team=team,
        name="drift-response",
        risk_category="data-drift",
        steps=[{"kind": "containment", "text": "Roll back to the previous version."}],
        escalation_chain=[{"group": team.name, "minutes": 15}],
    )
    save_playbook(book, user=engineer)
    return book


def _drills(book, count, start=0):
    soon = timezone.now() + timedelta(days=1)
    return [
        save_drill(
            Drill(playbook=book, title=f"drill {n}", scheduled_for=soon + timedelta(hours=n))
        )
        for n in range(start, start + count)
    ]


def test_the_drill_board_reads_as_often_for_3_and_300_drills(
    signed_in, engineer, team, django_assert_max_num_queries
):
    book = _playbook(team, engineer)
    _drills(book, 3)
    bounded(
        signed_in(engineer),
        "/drills/",
        lambda: _drills(book, 297, start=3),
        django_assert_max_num_queries,
    )
    assert Drill.objects.count() == 300


def test_a_drill_reads_as_often_with_3_and_300_participants(
    signed_in, engineer, team, django_assert_max_num_queries
):
    from tests.factories import UserFactory

    book = _playbook(team, engineer)
    (drill,) = _drills(book, 1)
    drill.participants.set(UserFactory.create_batch(3))
    page = bounded(
        signed_in(engineer),
        f"/drills/{drill.pk}/",
        lambda: drill.participants.add(*UserFactory.create_batch(297)),
        django_assert_max_num_queries,
    )
    assert drill.participants.count() == 300
    assert "drill 0" in page


def _lake():
    namespace = Namespace.objects.create(name="lake")
    return Dataset.objects.create(namespace=namespace, name="bureau/extract")


def _flagged(dataset, count, start=0):
    DatasetVersion.objects.bulk_create(
        DatasetVersion(
            dataset=dataset,
            version=f"v{n}",
            content_hash=f"md5:{n}",
            status=("revoked", "quarantined")[n % 2],
        )
        for n in range(start, start + count)
    )


def test_the_lineage_start_page_reads_as_often_for_3_and_300_flagged_versions(
    signed_in, engineer, django_assert_max_num_queries
):
    dataset = _lake()
    _flagged(dataset, 3)
    page = bounded(
        signed_in(engineer),
        "/lineage/",
        lambda: _flagged(dataset, 297, start=3),
        django_assert_max_num_queries,
    )
    assert DatasetVersion.objects.filter(status__in=("revoked", "quarantined")).count() == 300
    assert "bureau/extract@v299" in page


def test_the_lineage_picture_page_reads_as_often_for_3_and_300_flagged_versions(
    signed_in, engineer, django_assert_max_num_queries
):
    dataset = _lake()
    _flagged(dataset, 3)
    node = graph.version_node_id(DatasetVersion.objects.first())
    bounded(
        signed_in(engineer),
        f"/lineage/?nodeId={node}&direction=downstream",
        lambda: _flagged(dataset, 297, start=3),
        django_assert_max_num_queries,
    )


def _readers(version, job, model, count, start=0):
    """``count`` training runs reading ``version``, each the training run of a version
    of ``model``."""
    runs = Run.objects.bulk_create(
        Run(run_id=uuid.uuid4(), job=job, state="COMPLETE") for _ in range(count)
    )
    RunInput.objects.bulk_create(RunInput(run=run, dataset_version=version) for run in runs)
    ModelVersion.objects.bulk_create(
        ModelVersion(
            model=model,
            version=f"{start + n + 10}",
            artifact_uri=f"s3://models/{model.name}/{start + n}",
            artifact_digest="sha256:" + "0" * 64,
            training_run=run,
        )
        for n, run in enumerate(runs)
    )


def test_the_dataset_version_page_reads_as_often_for_3_and_300_consumers(
    signed_in, engineer, team, django_assert_max_num_queries
):
    dataset = _lake()
    version = DatasetVersion.objects.create(dataset=dataset, version="2", content_hash="md5:2")
    job = Job.objects.create(namespace=dataset.namespace, name="train")
    model = make_model(team, "loan-default")
    _readers(version, job, model, 3)
    page = bounded(
        signed_in(engineer),
        f"/lineage/versions/{version.pk}/",
        lambda: _readers(version, job, model, 297, start=3),
        django_assert_max_num_queries,
    )
    assert RunInput.objects.filter(dataset_version=version).count() == 300
    assert "300 model versions" in page
