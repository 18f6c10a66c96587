"""The lineage picture's pages through Django's test client: the graph JSON (bounded
queries at 3 and at 500 nodes, revoked versions flagged, model versions from the
registry), the dataset version page's impact, and the status form."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from audit.models import AuditEvent
from lineage import graph
from lineage.models import Dataset, DatasetVersion, Job, Namespace, Run, RunInput, RunOutput
from registry.models import ModelVersion
from registry.services import register_model
from tests.factories import UserFactory
from tests.playbooks.conftest import CARD

pytestmark = pytest.mark.django_db


def fan_in(features: int, *, raw_per_feature: int = 2):
    """A training run reading ``features`` feature versions, each written by its own run
    from ``raw_per_feature`` raw versions: 1 + 2 * features + raw * features nodes."""
    ns = Namespace.objects.create(name="lake")
    raw_ds = Dataset.objects.create(namespace=ns, name="raw/events")
    feat_ds = Dataset.objects.create(namespace=ns, name="features/applicant")
    build = Job.objects.create(namespace=ns, name="build_features")
    train = Job.objects.create(namespace=ns, name="train")
    training = Run.objects.create(run_id=uuid.uuid4(), job=train, state="COMPLETE")
    runs = Run.objects.bulk_create(
        Run(run_id=uuid.uuid4(), job=build, state="COMPLETE") for _ in range(features)
    )
    feats = DatasetVersion.objects.bulk_create(
        DatasetVersion(dataset=feat_ds, version=f"f{i}", content_hash=f"md5:f{i}")
        for i in range(features)
    )
    raws = DatasetVersion.objects.bulk_create(
        DatasetVersion(dataset=raw_ds, version=f"r{i}", content_hash=f"md5:r{i}")
        for i in range(features * raw_per_feature)
    )
    RunOutput.objects.bulk_create(
        RunOutput(run=run, dataset_version=feat) for run, feat in zip(runs, feats, strict=True)
    )
    RunInput.objects.bulk_create(
        RunInput(run=runs[i // raw_per_feature], dataset_version=raw) for i, raw in enumerate(raws)
    )
    RunInput.objects.bulk_create(RunInput(run=training, dataset_version=f) for f in feats)
    return training, raws


def _model(team):
    return register_model(
        name="loan-default", team=team, risk_tier="minimal", description="Loans", **CARD
    )


@pytest.fixture
def engineer(team):
    return UserFactory(username="erin", groups=[team, Role.ML_ENGINEER])


@pytest.fixture
def signed_in(engineer):
    client = Client()
    client.force_login(engineer)
    return client


def graph_json(client, node_id, **params):
    return client.get(reverse("ui-lineage-graph-json"), {"nodeId": node_id, **params})


def test_the_picture_of_a_training_run_flags_revoked_data_and_ends_at_the_model(signed_in, team):
    training, raws = fan_in(2)
    raws[0].status = "revoked"
    raws[0].save()
    model = _model(team)
    ModelVersion.objects.create(
        model=model, version="2", artifact_uri="s3://m/2", training_run=training
    )
    answer = graph_json(signed_in, graph.run_node_id(training))
    assert answer.status_code == 200
    body = answer.json()
    nodes = {n["data"]["id"]: n for n in body["elements"]["nodes"]}
    revoked = nodes[graph.version_node_id(raws[0])]
    assert revoked["data"]["status"] == "revoked" and "revoked" in revoked["classes"]
    assert revoked["data"]["hash"] == "md5:r0"
    assert body["counts"] == {"versions": 6, "runs": 3, "jobs": 2, "models": 1, "flagged": 1}
    edges = {(e["data"]["source"], e["data"]["target"]) for e in body["elements"]["edges"]}
    assert (graph.run_node_id(training), "model:loan-default:2") in edges


def test_model_versions_of_another_team_are_not_drawn(client, other_team, team):
    training, _ = fan_in(1)
    model = _model(team)
    ModelVersion.objects.create(
        model=model, version="1", artifact_uri="s3://m", training_run=training
    )
    outsider = UserFactory(username="oscar", groups=[other_team, Role.ML_ENGINEER])
    client.force_login(outsider)
    body = graph_json(client, graph.run_node_id(training)).json()
    assert body["counts"]["models"] == 0
    model_page = client.get(reverse("ui-model-lineage", args=["loan-default", "1"]))
    assert model_page.status_code == 404


def test_the_model_entry_point_opens_the_picture_of_its_training_run(signed_in, team):
    training, _ = fan_in(1)
    model = _model(team)
    ModelVersion.objects.create(
        model=model, version="1", artifact_uri="s3://m", training_run=training
    )
    answer = signed_in.get(reverse("ui-model-lineage", args=["loan-default", "1"]))
    assert answer.status_code == 302
    assert f"nodeId=run%3A{training.run_id}" in answer["Location"]
    page = signed_in.get(answer["Location"])
    assert page.status_code == 200
    assert b'data-graph-url="/lineage/graph.json?' in page.content
    assert b"<script>" not in page.content  # strict CSP: only static scripts


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"depth": "0"}, "depth"),
        ({"asOf": "soon"}, "asOf"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(signed_in, params, field):
    training, _ = fan_in(1)
    answer = graph_json(signed_in, graph.run_node_id(training), **params)
    assert answer.status_code == 400
    assert answer.json()["field"] == field


def test_an_unknown_node_is_404(signed_in):
    assert graph_json(signed_in, f"run:{uuid.uuid4()}").status_code == 404
    assert graph_json(signed_in, "datasetVersion:x:y:z").status_code == 404


def test_as_of_hides_what_was_recorded_later(signed_in):
    training, _ = fan_in(2)
    first = RunInput.objects.filter(run=training).order_by("pk").first()
    RunInput.objects.filter(run=training).exclude(pk=first.pk).update(
        created_at=first.created_at.replace(year=first.created_at.year + 1)
    )
    body = graph_json(signed_in, graph.run_node_id(training), asOf=first.created_at.isoformat())
    assert body.json()["counts"]["versions"] == 3  # one feature and its two raw versions


def test_graph_json_queries_do_not_grow_with_the_graph(signed_in, django_assert_num_queries):
    small, _ = fan_in(1)  # 5 nodes
    answer = graph_json(signed_in, graph.run_node_id(small))
    assert len(answer.json()["elements"]["nodes"]) == 5
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small_queries:
        graph_json(signed_in, graph.run_node_id(small))
    big_training, _ = _second_fan_in(166)  # 1 + 166 + 166 + 332 = 665 nodes
    with django_assert_num_queries(len(small_queries)):
        body = graph_json(signed_in, graph.run_node_id(big_training)).json()
    assert len(body["elements"]["nodes"]) >= 500


def _second_fan_in(features):
    ns = Namespace.objects.create(name="lake-2")
    raw_ds = Dataset.objects.create(namespace=ns, name="raw/big")
    feat_ds = Dataset.objects.create(namespace=ns, name="features/big")
    build = Job.objects.create(namespace=ns, name="build_big")
    train = Job.objects.create(namespace=ns, name="train_big")
    training = Run.objects.create(run_id=uuid.uuid4(), job=train, state="COMPLETE")
    runs = Run.objects.bulk_create(
        Run(run_id=uuid.uuid4(), job=build, state="COMPLETE") for _ in range(features)
    )
    feats = DatasetVersion.objects.bulk_create(
        DatasetVersion(dataset=feat_ds, version=f"f{i}") for i in range(features)
    )
    raws = DatasetVersion.objects.bulk_create(
        DatasetVersion(dataset=raw_ds, version=f"r{i}") for i in range(features * 2)
    )
    RunOutput.objects.bulk_create(
        RunOutput(run=r, dataset_version=f) for r, f in zip(runs, feats, strict=True)
    )
    RunInput.objects.bulk_create(
        RunInput(run=runs[i // 2], dataset_version=v) for i, v in enumerate(raws)
    )
    RunInput.objects.bulk_create(RunInput(run=training, dataset_version=f) for f in feats)
    return training, raws


def test_the_dataset_version_page_says_what_revoking_affects(signed_in, team):
    training, raws = fan_in(1)
    model = _model(team)
    ModelVersion.objects.create(
        model=model, version="1", artifact_uri="s3://m", training_run=training
    )
    page = signed_in.get(reverse("ui-lineage-version", args=[raws[0].pk]))
    assert page.status_code == 200
    assert (
        "Revoking or quarantining this affects 1 model version, none live" in page.content.decode()
    )
    assert b"loan-default@1" in page.content


def test_revoking_through_the_page_is_audited_with_its_reason(signed_in, engineer):
    _, raws = fan_in(1)
    url = reverse("ui-lineage-version-status", args=[raws[0].pk])
    answer = signed_in.post(
        url, {"status": "revoked", "note_field": "consent_notes", "reason": "consent withdrawn"}
    )
    assert answer.status_code == 302
    raws[0].refresh_from_db()
    assert raws[0].status == "revoked"
    assert "consent withdrawn" in raws[0].consent_notes
    event = AuditEvent.objects.get(action="lineage.dataset_version.status")
    assert event.actor_username == engineer.username
    assert event.after["status"] == "revoked"


def test_a_revocation_needs_a_reason_and_the_board_may_not_revoke(signed_in, client):
    _, raws = fan_in(1)
    url = reverse("ui-lineage-version-status", args=[raws[0].pk])
    signed_in.post(url, {"status": "revoked", "reason": ""})
    board = UserFactory(username="bea", groups=[Role.BOARD])
    client.force_login(board)
    answer = client.post(url, {"status": "revoked", "reason": "looks wrong"}, follow=True)
    assert "may not change" in answer.content.decode()
    raws[0].refresh_from_db()
    assert raws[0].status == "active"
    assert not AuditEvent.objects.filter(action="lineage.dataset_version.status").exists()
    assert (
        b"Change its status"
        not in client.get(reverse("ui-lineage-version", args=[raws[0].pk])).content
    )


def test_the_status_form_needs_its_csrf_token(engineer):
    _, raws = fan_in(1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(engineer)
    url = reverse("ui-lineage-version-status", args=[raws[0].pk])
    assert client.post(url, {"status": "quarantined", "reason": "x"}).status_code == 403
    page = client.get(reverse("ui-lineage-version", args=[raws[0].pk]))
    token = page.context["csrf_token"]
    answer = client.post(
        url, {"status": "quarantined", "reason": "x", "csrfmiddlewaretoken": token}
    )
    assert answer.status_code == 302
    raws[0].refresh_from_db()
    assert raws[0].status == "quarantined"
