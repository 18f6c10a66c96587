"""The two calls every pipeline makes: registering a version and asking what is live.

Both read through statements compiled once per process (``registry.api.scoped``,
``registry.api.serializers.MODEL_BY_NAME``): the answers are the ones the ORM's
filters and the scoping give, for every kind of caller, within a fixed number of
queries (NetBox-style counts: deterministic, no timing).
"""

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import permissions
from accounts.roles import Role
from audit.models import AuditEvent
from registry import services
from registry.api.serializers import DeploymentSerializer, ModelVersionSerializer
from registry.models import MLModel, ModelVersion
from tests.factories import UserFactory
from tests.registry.shipping import ship

pytestmark = pytest.mark.django_db

LIVE = "/api/deployments/?live=true&environment=production&model=loan-default"
# the same filters through django-filter (a blank team filters nothing)
LIVE_THROUGH_FILTERS = LIVE + "&team="

# token, the caller's global permissions (the scoping asks them), the page
LIVE_BUDGET = 3
# token, the model read with the caller's rights on it, the training run, then the
# insert with its audit event: on PostgreSQL one statement (audit.tracking.create_tracked,
# outside any transaction), on SQLite four (the insert; lock the chain head, insert the
# event, move the head). Was 8 and 10, with the caller's global permissions, the model
# scoped through guardian's tables and a uniqueness query before the insert (the
# database's constraint answers it); then 8 with the rights read apart from the model;
# then 5 and a BEGIN and a COMMIT on PostgreSQL, the insert and its event apart.
REGISTER_BUDGET = {"postgresql": 4, "sqlite": 7}


def statements(captured) -> list[str]:
    """The SQL run, savepoints left out (the test's and the request's own)."""
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"].upper()]


@pytest.fixture
def callers(owner, outsider, auditor):
    root = UserFactory(username="root-user", is_superuser=True)
    board = UserFactory(username="bea", groups=[Role.BOARD])
    return {"owner": owner, "outsider": outsider, "auditor": auditor, "board": board, "root": root}


def test_what_is_live_answers_as_the_filters_do_for_every_caller(
    client_for, callers, version, production, owner
):
    ship(version, production, owner)
    seen = {}
    for name, user in callers.items():
        client = client_for(user)
        fast, slow = client.get(LIVE), client.get(LIVE_THROUGH_FILTERS)
        assert fast.status_code == slow.status_code == 200
        assert fast.json() == slow.json(), name
        seen[name] = [d["version"] for d in fast.json()["results"]]
    assert seen == {"owner": ["1"], "outsider": [], "auditor": ["1"], "board": ["1"], "root": ["1"]}


@pytest.mark.parametrize(
    "query",
    [
        "?live=true&environment=production&model=nothing-of-that-name",
        "?live=true&environment=nowhere&model=loan-default",
        "?live=false&environment=production&model=loan-default",
        "?live=true&environment=production&model=loan-default&model=other",
        "?live=true&environment=production&model=%20loan-default",
    ],
)
def test_other_query_strings_read_through_the_filters(
    client_for, owner, version, production, query
):
    ship(version, production, owner)
    answer = client_for(owner).get("/api/deployments/" + query)
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == len(body["results"])
    if "%20" in query:  # the filter strips the value, as a form does
        assert [d["version"] for d in body["results"]] == ["1"]


def test_what_is_live_within_budget(client_for, owner, version, production):
    ship(version, production, owner)
    client = client_for(owner)
    client.get(LIVE)  # compiled once per process: the budget is what every read pays
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(LIVE)
    assert answer.json()["results"][0]["version"] == "1"
    assert len(statements(captured)) <= LIVE_BUDGET, "\n".join(statements(captured))


def test_registering_within_budget_writes_the_version_and_its_audit_event(
    client_for, owner, model, chain
):
    client = client_for(owner)
    run = str(chain["training_run"].run_id)

    def register(label):
        return client.post(
            "/api/model-versions/",
            {
                "model": model.name,
                "version": label,
                "artifact_uri": f"s3://models/{label}.pkl",
                "artifact_digest": "sha256:" + "ab" * 32,
                "training_run": run,
            },
            content_type="application/json",
        )

    assert register("warm").status_code == 201
    events = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as captured:
        answer = register("counted")
    assert answer.status_code == 201, answer.json()
    budget = REGISTER_BUDGET[connection.vendor]
    assert len(statements(captured)) <= budget, "\n".join(statements(captured))
    assert AuditEvent.objects.count() == events + 1

    again = register("counted")
    assert again.status_code == 400
    assert "already has a version" in again.json()["fields"]["version"][0]


def test_another_teams_model_reads_as_absent_when_registering(
    client_for, outsider, auditor, model, chain
):
    for user in (outsider, auditor):  # no sight of it; sight without the change right
        answer = client_for(user).post(
            "/api/model-versions/",
            {
                "model": model.name,
                "version": "9",
                "artifact_uri": "s3://models/9.pkl",
                "artifact_digest": "sha256:" + "ab" * 32,
                "training_run": str(chain["training_run"].run_id),
            },
            content_type="application/json",
        )
        assert answer.status_code in (400, 403), answer.json()
    refused = client_for(outsider).post(
        "/api/model-versions/",
        {"model": model.name, "version": "9", "artifact_uri": "s3://m", "artifact_digest": "a:b"},
        content_type="application/json",
    )
    assert refused.json()["fields"]["model"] == [f"Object with name={model.name} does not exist."]


def savepoints(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" in q["sql"].upper()]


def test_deployment_reads_run_outside_the_request_transaction_and_writes_inside_one(
    client_for, owner, outsider, version, staging
):
    """Inside the test's transaction the request's own would be a savepoint: a read
    opens none, a write one, and a refused write still rolls back whole."""
    ship(version, staging, owner)
    client = client_for(owner)
    with CaptureQueriesContext(connection) as read:
        answer = client.get(LIVE.replace("production", "staging"))
    assert [d["version"] for d in answer.json()["results"]] == ["1"]
    assert savepoints(read) == []

    with CaptureQueriesContext(connection) as write:
        refused = client_for(outsider).post(
            "/api/deployments/",
            {"model_version": version.pk, "environment": "staging"},
            content_type="application/json",
        )
    assert refused.status_code == 400, refused.json()
    assert refused.json()["fields"]["model_version"]
    assert len(savepoints(write)) >= 2  # the request's transaction, rolled back

    # an error answer of a read leaves the enclosing transaction usable
    missing = client.get("/api/deployments/999999/")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert AuditEvent.objects.exists()


def test_a_label_taken_is_a_400_and_the_service_keeps_the_callers_transaction(model, chain, owner):
    def register(**options):
        return services.register_version(
            model=model,
            version="7",
            artifact_uri="s3://models/7.pkl",
            artifact_digest="sha256:" + "ab" * 32,
            training_run=chain["training_run"],
            registered_by=owner,
            **options,
        )

    register()
    with pytest.raises(ValidationError) as taken:
        register()  # in a savepoint: the caller's transaction goes on
    assert "already has a version" in taken.value.message_dict["version"][0]
    assert ModelVersion.objects.filter(model=model, version="7").count() == 1


@pytest.mark.django_db(transaction=True)
def test_registering_through_the_api_is_one_write_outside_any_transaction(
    client_for, owner, model, chain
):
    """On PostgreSQL the version and its audit event are one statement, run with no
    transaction around it; elsewhere the two run in one transaction. Either way a
    taken label is a 400 that leaves nothing behind, and the chain verifies."""
    client = client_for(owner)
    body = {
        "model": model.name,
        "artifact_uri": "s3://models/x.pkl",
        "artifact_digest": "sha256:" + "ab" * 32,
        "training_run": str(chain["training_run"].run_id),
    }
    writes = []

    def watch(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(("INSERT", "WITH")):
            writes.append((sql, connection.in_atomic_block))
        return execute(sql, params, many, context)

    events = AuditEvent.objects.count()
    with connection.execute_wrapper(watch):
        answer = client.post("/api/model-versions/", {**body, "version": "b"}, format="json")
    assert answer.status_code == 201, answer.json()
    if connection.vendor == "postgresql":
        [(sql, in_transaction)] = writes
        assert "audit_append(" in sql and not in_transaction
    else:
        assert writes and all(in_transaction for _, in_transaction in writes)
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.order_by("-seq").first()
    stored = ModelVersion.objects.get(model=model, version="b")
    assert (event.action, event.object_type, event.object_id) == (
        "create",
        "registry.modelversion",
        str(stored.pk),
    )
    assert event.after["id"] == stored.pk and event.after["version"] == "b"
    assert event.actor_username == owner.username

    taken = client.post("/api/model-versions/", {**body, "version": "b"}, format="json")
    assert taken.status_code == 400
    assert "already has a version" in taken.json()["fields"]["version"][0]
    assert model.versions.filter(version="b").count() == 1
    assert AuditEvent.objects.count() == events + 1
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert f"verified {AuditEvent.objects.count()} audit events" in out.getvalue()


def test_serializers_built_once_bind_fields_of_their_own(version, owner):
    first, second = ModelVersionSerializer(version), ModelVersionSerializer(version)
    assert first.data == second.data
    for name, field in first.fields.items():
        assert field is not second.fields[name]
        assert field.parent is first and second.fields[name].parent is second
    # the fields built once stay unbound: each serializer binds its own copy
    assert all(
        getattr(field, "parent", None) is None
        for field in ModelVersionSerializer._fields_built.values()
    )
    assert DeploymentSerializer(many=True).child.fields["model_version"].parent is not None


def test_rights_read_with_the_model_are_those_the_permission_read_gives(callers, model):
    """``with_held`` reads with a row what ``may`` would read for it on its own."""
    for name, user in callers.items():
        (row,) = permissions.with_held(MLModel.objects.filter(pk=model.pk), user.pk)
        fresh = UserFactory._meta.model.objects.get(pk=user.pk)
        permissions.remember_held(fresh, row)
        remembered = permissions._held_on(fresh, row)
        read_alone = permissions._held_on(UserFactory._meta.model.objects.get(pk=user.pk), model)
        assert remembered == read_alone, name
        for action in ("view", "change", "delete", "approve"):
            assert permissions.may(fresh, action, row) == permissions.may(user, action, model)


@pytest.mark.django_db(transaction=True)
def test_a_version_whose_text_the_database_cannot_cut_is_inserted_with_its_event_in_a_transaction(
    model, chain, owner
):
    """Text holding the chain's own markers cannot be hashed by the database
    (``canonical_pieces`` gives None): the insert and its event are written apart, in
    one transaction, and the chain still verifies."""
    with CaptureQueriesContext(connection) as captured:
        version = services.register_version(
            model=model,
            version="odd",
            artifact_uri="s3://models/odd.pkl",
            artifact_digest="sha256:" + "ab" * 32,
            description="\u0001prev_hash\u0001",  # the marker canonical_pieces cuts at
            training_run=chain["training_run"],
            registered_by=owner,
        )
    sql = [q["sql"] for q in captured.captured_queries]
    assert not any("audit_append" in q for q in sql)
    assert any(q.startswith('INSERT INTO "audit_auditevent"') for q in sql), sql
    event = AuditEvent.objects.get(object_type="registry.modelversion", object_id=str(version.pk))
    assert event.after["description"] == version.description
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert f"verified {AuditEvent.objects.count()} audit events" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_model_deleted_while_a_version_is_registered_is_a_400_on_model(model, chain, owner):
    """The model was read, then deleted before the insert committed (another admin, at
    the same moment): the foreign key refuses the row, nothing is written, and the
    answer names the model instead of a server error."""
    MLModel.objects.filter(pk=model.pk).delete()
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as gone:
        services.register_version(
            model=model,  # as read before the delete
            version="late",
            artifact_uri="s3://models/late.pkl",
            artifact_digest="sha256:" + "ab" * 32,
            training_run=chain["training_run"],
            registered_by=owner,
        )
    assert "deleted meanwhile" in gone.value.message_dict["model"][0]
    assert not ModelVersion.objects.filter(version="late").exists()
    assert AuditEvent.objects.count() == events
