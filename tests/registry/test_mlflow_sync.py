"""The MLflow registry sync against a real ``mlflow server`` (MLflow from PyPI, SQLite
backend, started here on a free port), driven with MLflow's own client: what a team
registers in MLflow becomes govreg models and versions, a second sync changes nothing,
an alias moved around the gate is one critical signal, an unreachable server says so
and loses nothing."""

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import transaction
from mlflow import MlflowClient
from rest_framework.test import APIClient

from audit.models import AuditEvent
from config.env import env_str_mapping
from playbooks.choices import SignalKind, SignalSource, Triage
from playbooks.models import Incident, Signal
from registry import mlflow_sync
from registry.models import (
    MLflowAlias,
    MLflowModelLink,
    MLflowVersionLink,
    MLModel,
    ModelVersion,
)
from registry.tasks import sync_mlflow
from tests.registry.conftest import make_model
from tests.registry.mlflow_server import MLflowServer, closed_port_uri
from tests.registry.shipping import approved_request, ship

_names = itertools.count(1)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    server = MLflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


@pytest.fixture
def mlflow(mlflow_server, settings, team, monkeypatch):
    """MLflow's client on the test server, the sync pointed at it, production watched."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    settings.GOVREG_MLFLOW_TRACKING_URI = mlflow_server.uri
    settings.GOVREG_MLFLOW_TEAM = None
    settings.GOVREG_MLFLOW_ALIAS_ENVIRONMENTS = {"production": "production"}
    return MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)


def fresh_name(stem: str) -> str:
    """Each test registers its own models: the server lives for the whole session."""
    return f"{stem}-{next(_names)}-{uuid.uuid4().hex[:6]}"


def register(mlflow: MlflowClient, name: str, versions: int = 2, **model_tags):
    tags = {"govreg.team": "credit-risk", **model_tags}
    mlflow.create_registered_model(name, tags=tags, description=f"{name}: scores loans")
    experiment = mlflow.create_experiment(f"exp-{name}")
    runs = []
    for number in range(1, versions + 1):
        run = mlflow.create_run(experiment)
        runs.append(run.info.run_id)
        mlflow.create_model_version(
            name,
            source=f"s3://models/{name}/{number}",
            run_id=run.info.run_id,
            tags={"trainer": "xgboost", "n": str(number)},
            description=f"version {number}",
        )
    return runs


def mlflow_events() -> int:
    return AuditEvent.objects.count()


def test_registered_models_versions_and_aliases_are_imported_once(
    mlflow, django_assert_max_num_queries
):
    name = fresh_name("loan-scorer")
    runs = register(mlflow, name)
    mlflow.set_registered_model_alias(name, "production", "1")
    mlflow.set_registered_model_alias(name, "challenger", "2")

    report = mlflow_sync.sync([name])

    assert not report.stopped
    [outcome] = report.models
    assert outcome.created and outcome.versions_created == ["1", "2"]
    model = MLModel.objects.get(name=name)
    assert model.team.name == "credit-risk"
    assert model.risk_tier == "high"  # GOVREG_MLFLOW_RISK_TIER's default
    assert model.description == f"{name}: scores loans"
    versions = {v.version: v for v in ModelVersion.objects.filter(model=model)}
    assert set(versions) == {"1", "2"}
    assert versions["1"].artifact_uri == f"s3://models/{name}/1"
    assert versions["1"].artifact_digest == f"mlflow-version:{name}/1"
    assert versions["2"].description == "version 2"
    # The MLflow run is the version's training run in lineage (no inputs known yet).
    training = versions["2"].training_run
    assert (training.job.namespace.name, training.job.name) == (mlflow.tracking_uri, name)
    assert training.run_id == uuid.UUID(runs[1])
    link = MLflowVersionLink.objects.get(model_version=versions["2"])
    assert (link.model_link.mlflow_name, link.mlflow_version) == (name, "2")
    assert link.run_id == runs[1]
    assert link.source == f"s3://models/{name}/2"
    assert link.tags == {"trainer": "xgboost", "n": "2"}
    aliases = {a.alias: a for a in MLflowAlias.objects.filter(model_link__mlflow_name=name)}
    assert (aliases["production"].mlflow_version, aliases["production"].environment_name) == (
        "1",
        "production",
    )
    assert (aliases["challenger"].mlflow_version, aliases["challenger"].environment_name) == (
        "2",
        "",
    )
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"create", "mlflow.sync"} <= actions
    sync_event = AuditEvent.objects.get(action="mlflow.sync")
    assert sync_event.after["versions_created"] == ["1", "2"]
    assert sync_event.after["tracking_uri"] == mlflow.tracking_uri

    # The same MLflow state again: nothing changes, no audit event is written.
    events = mlflow_events()
    with django_assert_max_num_queries(10):  # reads, no writes
        again = mlflow_sync.sync([name])
    assert not again.changed and again.models[0].line().endswith("unchanged")
    assert mlflow_events() == events
    assert ModelVersion.objects.filter(model=model).count() == 2
    assert MLflowAlias.objects.filter(model_link__mlflow_name=name).count() == 2

    # A new version and a changed description come over; the rest stays.
    run = mlflow.create_run(mlflow.get_experiment_by_name(f"exp-{name}").experiment_id)
    mlflow.create_model_version(
        name, source=f"s3://models/{name}/3", run_id=run.info.run_id, description="three"
    )
    # A version MLflow knows no run of cannot say how it was trained: it waits.
    mlflow.create_model_version(name, source=f"s3://models/{name}/4")
    mlflow.update_model_version(name, "1", description="version 1, retrained labels")
    third = mlflow_sync.sync([name]).models[0]
    assert (third.versions_created, third.versions_updated) == (["3"], ["1"])
    assert "version 4 not imported: it has no MLflow run id" in third.line()
    assert ModelVersion.objects.get(model=model, version="1").description == (
        "version 1, retrained labels"
    )
    assert mlflow_sync.sync([name]).changed == 0


def test_digest_tag_and_lineage_run_are_used(mlflow, chain):
    name = fresh_name("fraud-net")
    mlflow.create_registered_model(name, tags={"govreg.team": "credit-risk"})
    run = mlflow.create_run(mlflow.create_experiment(f"exp-{name}"))
    training_run = chain["training_run"]
    training_run.run_id = uuid.UUID(run.info.run_id)  # the training job emits OpenLineage
    training_run.save(update_fields=["run_id"])
    mlflow.create_model_version(
        name,
        source=f"s3://models/{name}/1",
        run_id=run.info.run_id,
        tags={"govreg.artifact_digest": "sha256:" + "ab" * 32},
    )

    mlflow_sync.sync([name])

    version = ModelVersion.objects.get(model__name=name, version="1")
    assert version.artifact_digest == "sha256:" + "ab" * 32
    assert version.training_run == training_run


def test_team_comes_from_the_tag_or_the_setting_else_the_model_waits(mlflow, settings):
    name = fresh_name("churn")
    mlflow.create_registered_model(name)
    run = mlflow.create_run(mlflow.create_experiment(f"exp-{name}"))
    mlflow.create_model_version(name, source="s3://churn/1", run_id=run.info.run_id)

    [outcome] = mlflow_sync.sync([name]).models
    assert "no team" in outcome.skipped and "GOVREG_MLFLOW_TEAM" in outcome.skipped
    assert not MLModel.objects.filter(name=name).exists()

    settings.GOVREG_MLFLOW_TEAM = "no-such-team"
    assert "'no-such-team' does not exist" in mlflow_sync.sync([name]).models[0].skipped

    settings.GOVREG_MLFLOW_TEAM = "credit-risk"
    assert mlflow_sync.sync([name]).models[0].created
    assert MLModel.objects.get(name=name).team.name == "credit-risk"


def test_an_existing_govreg_model_is_linked_not_copied(mlflow, team):
    name = fresh_name("loan-default")
    model = make_model(team, name)
    mlflow.create_registered_model(name, tags={"govreg.team": "fraud-detection"})
    run = mlflow.create_run(mlflow.create_experiment(f"exp-{name}"))
    mlflow.create_model_version(name, source="s3://ld/1", run_id=run.info.run_id)

    [outcome] = mlflow_sync.sync([name]).models

    assert MLModel.objects.filter(name=name).count() == 1
    assert MLflowModelLink.objects.get(mlflow_name=name).model == model
    assert MLModel.objects.get(name=name).team == team  # govreg's owner stays
    assert "linked to the existing govreg model" in outcome.line()


def test_an_alias_moved_around_the_gate_is_one_critical_signal(mlflow, owner, environments):
    name = fresh_name("credit-limit")
    register(mlflow, name, versions=3)
    mlflow_sync.sync([name])
    production = environments["production"]
    v1 = ModelVersion.objects.get(model__name=name, version="1")
    ship(v1, production, owner)  # approved by the gate and live in production

    mlflow.set_registered_model_alias(name, "production", "1")
    assert mlflow_sync.sync([name]).models[0].ungoverned == []
    assert not Signal.objects.filter(kind=SignalKind.UNGOVERNED_DEPLOYMENT).exists()

    # Someone promotes version 2 in MLflow without asking the gate.
    mlflow.set_registered_model_alias(name, "production", "2")
    [outcome] = mlflow_sync.sync([name]).models
    assert outcome.ungoverned == [f"production -> {name}@2 in production"]
    [signal] = Signal.objects.filter(kind=SignalKind.UNGOVERNED_DEPLOYMENT)
    assert signal.source == SignalSource.MLFLOW
    assert signal.triage == Triage.CRITICAL
    assert (signal.model.name, signal.model_version.version) == (name, "2")
    assert signal.environment_name == "production"
    assert signal.labels["mlflow_alias"] == "production"
    assert "has not approved" in signal.annotations["summary"]
    incident = signal.incident
    assert incident is not None and incident.model.name == name
    assert incident.environment_name == "production"

    # Re-reading the same state raises nothing more.
    events = mlflow_events()
    assert mlflow_sync.sync([name]).changed == 0
    assert Signal.objects.filter(kind=SignalKind.UNGOVERNED_DEPLOYMENT).count() == 1
    assert mlflow_events() == events

    # Another move is another signal; it joins the incident still open.
    mlflow.set_registered_model_alias(name, "production", "3")
    mlflow_sync.sync([name])
    signals = Signal.objects.filter(kind=SignalKind.UNGOVERNED_DEPLOYMENT).order_by("pk")
    assert [s.model_version.version for s in signals] == ["2", "3"]
    assert {s.incident_id for s in signals} == {incident.pk}
    assert Incident.objects.filter(model__name=name).count() == 1

    # Back to the approved, live version: governed, no signal.
    mlflow.set_registered_model_alias(name, "production", "1")
    assert mlflow_sync.sync([name]).models[0].aliases_moved == ["production 3->1"]
    assert signals.count() == 2


def test_an_alias_on_a_version_the_gate_approved_is_governed(mlflow, owner, environments):
    """Approved and not yet reported: the pipeline is shipping it, MLflow's alias may move."""
    name = fresh_name("support-triage")
    register(mlflow, name, versions=2)
    mlflow_sync.sync([name])
    v2 = ModelVersion.objects.get(model__name=name, version="2")
    approved_request(v2, environments["production"], owner)

    mlflow.set_registered_model_alias(name, "production", "2")
    [outcome] = mlflow_sync.sync([name]).models

    assert outcome.aliases_moved == ["production none->2"] and outcome.ungoverned == []
    assert not Signal.objects.filter(model__name=name).exists()


def test_the_alias_map_is_a_json_object_of_strings(monkeypatch):
    monkeypatch.setenv("GOVREG_MLFLOW_ALIAS_ENVIRONMENTS", '{"production": "production"}')
    assert env_str_mapping("GOVREG_MLFLOW_ALIAS_ENVIRONMENTS") == {"production": "production"}
    for bad in ('["production"]', '{"production": 1}', "{production}", '{"": "staging"}'):
        monkeypatch.setenv("GOVREG_MLFLOW_ALIAS_ENVIRONMENTS", bad)
        with pytest.raises(ImproperlyConfigured, match="GOVREG_MLFLOW_ALIAS_ENVIRONMENTS must be"):
            env_str_mapping("GOVREG_MLFLOW_ALIAS_ENVIRONMENTS")


def test_an_unreachable_server_says_so_and_loses_nothing(mlflow, settings):
    name = fresh_name("pricing")
    register(mlflow, name)
    mlflow_sync.sync([name])
    before = (
        MLModel.objects.count(),
        ModelVersion.objects.count(),
        MLflowVersionLink.objects.count(),
    )
    events = mlflow_events()
    settings.GOVREG_MLFLOW_TRACKING_URI = closed_port_uri()

    report = mlflow_sync.sync()

    assert report.stopped.startswith(f"MLflow at {settings.GOVREG_MLFLOW_TRACKING_URI} could not")
    assert "list registered models" in report.stopped
    with pytest.raises(CommandError, match="could not list registered models"):
        call_command("sync_mlflow")
    after = (
        MLModel.objects.count(),
        ModelVersion.objects.count(),
        MLflowVersionLink.objects.count(),
    )
    assert after == before
    assert mlflow_events() == events


def test_the_sync_is_off_without_a_tracking_uri(settings):
    settings.GOVREG_MLFLOW_TRACKING_URI = None
    with pytest.raises(CommandError, match="GOVREG_MLFLOW_TRACKING_URI is not set"):
        call_command("sync_mlflow")


def test_command_and_beat_task_are_audited_as_themselves(mlflow, capsys):
    first, second = fresh_name("ranker"), fresh_name("ranker")
    register(mlflow, first, versions=1)
    register(mlflow, second, versions=1)

    call_command("sync_mlflow", "--model", first)
    out = capsys.readouterr().out
    assert f"{first} -> {first}: imported as {first}; new versions 1" in out
    assert "1 registered models from" in out
    assert AuditEvent.objects.filter(action="mlflow.sync").get().actor_username == (
        "manage.py sync_mlflow"
    )

    result = sync_mlflow.delay([second]).get()
    assert result["changed"] == 1 and result["stopped"] == ""
    event = AuditEvent.objects.filter(action="mlflow.sync").order_by("seq").last()
    assert event.actor_username == "registry.sync_mlflow"
    assert event.after["mlflow_name"] == second


def test_a_whole_server_sync_reads_every_registered_model(mlflow):
    name = fresh_name("everything")
    register(mlflow, name, versions=1)
    report = mlflow_sync.sync()
    assert name in {m.mlflow_name for m in report.models}
    assert MLModel.objects.filter(name=name).exists()


# --- MLflow's signed registry webhooks ---------------------------------------------------

SECRET = "webhook-secret-for-tests"


def signed(body: bytes, *, secret: str = SECRET, stamp: int | None = None) -> dict:
    """The headers MLflow sends: its documented v1 signature over id.timestamp.body."""
    delivery = str(uuid.uuid4())
    stamp = str(int(time.time()) if stamp is None else stamp)
    digest = hmac.new(secret.encode(), f"{delivery}.{stamp}.".encode() + body, hashlib.sha256)
    return {
        "HTTP_X_MLFLOW_DELIVERY_ID": delivery,
        "HTTP_X_MLFLOW_TIMESTAMP": stamp,
        "HTTP_X_MLFLOW_SIGNATURE": "v1," + base64.b64encode(digest.digest()).decode(),
    }


def test_webhooks_are_refused_unless_signed_fresh_and_on(
    mlflow, settings, django_capture_on_commit_callbacks
):
    name = fresh_name("hooked")
    register(mlflow, name, versions=1)
    body = json.dumps(
        {"entity": "model_version", "action": "created", "data": {"name": name, "version": "1"}}
    ).encode()
    api = APIClient()
    url = "/api/mlflow/webhook"

    off = api.post(url, body, content_type="application/json", **signed(body))
    assert off.status_code == 404 and "GOVREG_MLFLOW_WEBHOOK_SECRET" in off.json()["message"]

    settings.GOVREG_MLFLOW_WEBHOOK_SECRET = SECRET
    unsigned = api.post(url, body, content_type="application/json")
    assert (
        unsigned.status_code == 401 and "Missing X-MLflow-Delivery-Id" in unsigned.json()["message"]
    )
    forged = api.post(url, body, content_type="application/json", **signed(body, secret="guess"))
    assert forged.status_code == 401 and "does not verify" in forged.json()["message"]
    stale = api.post(url, body, content_type="application/json",
                     **signed(body, stamp=int(time.time()) - 3600))  # fmt: skip
    assert stale.status_code == 401 and "possible replay" in stale.json()["message"]
    tampered = body.replace(b'"1"', b'"2"')
    assert (
        api.post(url, tampered, content_type="application/json", **signed(body)).status_code == 401
    )
    assert not MLModel.objects.filter(name=name).exists()

    with django_capture_on_commit_callbacks(execute=True):  # the sync starts on commit
        answer = api.post(url, body, content_type="application/json", **signed(body))
    assert answer.status_code == 202, answer.content
    assert answer.json() == {"event": "model_version.created", "model": name, "sync": True}
    assert ModelVersion.objects.filter(model__name=name, version="1").exists()

    nameless = json.dumps({"entity": "model_version", "action": "created", "data": {}}).encode()
    bad = api.post(url, nameless, content_type="application/json", **signed(nameless))
    assert bad.status_code == 400 and "data" in bad.json()["fields"]


def test_mlflow_delivers_a_signed_webhook_and_the_alias_is_seen(mlflow, settings, live_server):
    """MLflow itself sends the delivery (its webhook, its signature) to govreg's live
    server; the sync it starts sees the alias moved around the gate at once."""
    settings.GOVREG_MLFLOW_WEBHOOK_SECRET = SECRET
    name = fresh_name("pushed")
    register(mlflow, name, versions=2)
    mlflow_sync.sync([name])
    seen = threading.Event()

    def committed(sender, alias, **kwargs):
        if alias.model_link.mlflow_name == name:
            transaction.on_commit(seen.set)

    mlflow_sync.ungoverned_alias.connect(committed, weak=False, dispatch_uid="test-webhook-seen")
    hook = mlflow.create_webhook(
        name=f"govreg-{name}",
        url=f"{live_server.url}/api/mlflow/webhook",
        events=["model_version_alias.created"],
        secret=SECRET,
    )
    try:
        mlflow.set_registered_model_alias(name, "production", "2")
        assert seen.wait(timeout=90), "no signed delivery reached govreg"
    finally:
        mlflow_sync.ungoverned_alias.disconnect(dispatch_uid="test-webhook-seen")
        mlflow.delete_webhook(hook.webhook_id)
    signal = Signal.objects.get(kind=SignalKind.UNGOVERNED_DEPLOYMENT, model__name=name)
    assert (signal.model_version.version, signal.triage) == ("2", Triage.CRITICAL)
    assert AuditEvent.objects.filter(
        action="mlflow.sync", actor_username="registry.sync_mlflow"
    ).exists()
