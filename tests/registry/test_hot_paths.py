"""The two calls every pipeline makes: registering a version and asking what is live.

Both read through statements compiled once per process (``registry.api.scoped``,
``registry.api.serializers.MODEL_BY_NAME``): the answers are the ones the ORM's
filters and the scoping give, for every kind of caller, within a fixed number of
queries (NetBox-style counts: deterministic, no timing).
"""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
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
# token, the model read with the caller's rights on it, the training run, the insert
# (no savepoint of its own), the audit event: one statement on PostgreSQL
# (audit_append), three on SQLite (lock the chain head, insert, move the head). Was 8
# and 10, with the caller's global permissions, the model scoped through guardian's
# tables and a uniqueness query before the insert (the database's constraint answers
# it); then 8 with the rights read apart from the model.
REGISTER_BUDGET = 7


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
    assert len(statements(captured)) <= REGISTER_BUDGET, "\n".join(statements(captured))
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

    # without the savepoint (the API's request, rolled back whole on the 400) the
    # transaction is marked for rollback: nothing runs in it by mistake
    with pytest.raises(transaction.TransactionManagementError), transaction.atomic():
        with pytest.raises(ValidationError):
            register(savepoint=False)
        ModelVersion.objects.count()


def test_registering_through_the_api_takes_no_savepoint_of_its_own(client_for, owner, model, chain):
    client = client_for(owner)
    body = {
        "model": model.name,
        "artifact_uri": "s3://models/x.pkl",
        "artifact_digest": "sha256:" + "ab" * 32,
        "training_run": str(chain["training_run"].run_id),
    }
    assert (
        client.post("/api/model-versions/", {**body, "version": "a"}, format="json").status_code
        == 201
    )
    with CaptureQueriesContext(connection) as captured:
        answer = client.post("/api/model-versions/", {**body, "version": "b"}, format="json")
    assert answer.status_code == 201
    # the request's own (a savepoint inside the test's transaction) and no other
    assert [q.split()[0].upper() for q in savepoints(captured)] == ["SAVEPOINT", "RELEASE"]
    taken = client.post("/api/model-versions/", {**body, "version": "b"}, format="json")
    assert taken.status_code == 400
    assert "already has a version" in taken.json()["fields"]["version"][0]
    assert model.versions.filter(version="b").count() == 1


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
