"""Issue #11, the gate's part: every answer of the gate is rendered by the serializer
the OpenAPI document shows, its refusals are answered by the one exception map, and
"a rejection needs a comment" is one rule (``Approval.clean``) whoever rejects."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from audit.models import AuditEvent
from registry.gate import services as gate
from registry.models import Approval
from tests.gate.conftest import ask

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def component(schema, name):
    return schema["components"]["schemas"][name]


def response_schema(schema, path, method, code="200"):
    content = schema["paths"][path][method]["responses"][code]["content"]["application/json"]
    return content["schema"]


def ref_name(node) -> str:
    return node["$ref"].rsplit("/", 1)[-1]


def test_every_gate_answer_has_the_schema_s_keys(schema, api, pipeline, version, alice, bob):
    request_schema = component(schema, "DeploymentRequest")
    keys = set(request_schema["properties"])
    approval_keys = set(component(schema, "Approval")["properties"])
    detail = "/api/deployment-requests/{id}/"
    for path, method, code in [
        ("/api/deployment-requests/", "post", "201"),
        (detail, "get", "200"),
        ("/api/deployment-requests/{id}/approve/", "post", "200"),
        ("/api/deployment-requests/{id}/reject/", "post", "200"),
        ("/api/deployment-requests/{id}/deployed/", "post", "201"),
        ("/api/deployment-requests/{id}/failed/", "post", "200"),
    ]:
        assert ref_name(response_schema(schema, path, method, code)) == "DeploymentRequest", path
    page = component(schema, ref_name(response_schema(schema, "/api/deployment-requests/", "get")))
    assert ref_name(page["properties"]["results"]["items"]) == "DeploymentRequest"

    asked = ask(api(pipeline), version)
    assert asked.status_code == 201
    assert set(asked.json()) == keys
    request_id = asked.json()["id"]
    approved = api(alice).post(f"/api/deployment-requests/{request_id}/approve", {}, format="json")
    assert set(approved.json()) == keys
    assert [set(a) for a in approved.json()["approvals"]] == [approval_keys]
    listed = api(pipeline).get("/api/deployment-requests/").json()
    assert [set(item) for item in listed["results"]] == [keys]
    read = api(pipeline).get(f"/api/deployment-requests/{request_id}/").json()
    assert read == {**approved.json(), "checks": read["checks"]}


def test_a_refusal_and_a_conflict_come_from_the_one_exception_map(api, pipeline, version, alice):
    request_id = ask(api(pipeline), version).json()["id"]
    url = f"/api/deployment-requests/{request_id}/approve"
    refused = api(pipeline).post(url, {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"] == "permission_denied"
    assert refused.json()["status"] == 403

    assert api(alice).post(url, {}, format="json").status_code == 200
    again = api(alice).post(url, {}, format="json")
    assert again.status_code == 409
    assert again.json() == {
        "status": 409,
        "error": "conflict",
        "message": "You have already decided on this request.",
    }


def test_a_rejection_needs_a_comment_whoever_rejects(api, pipeline, version, alice):
    request_id = ask(api(pipeline), version).json()["id"]

    # the service (which the API, the board's page and any other caller use)
    with pytest.raises(ValidationError) as raised:
        gate.reject(request_id, alice, "   ")
    assert raised.value.message_dict == {"comment": ["A rejection needs a comment saying why."]}

    # the API answers the same rule as a 400 naming the field
    answer = api(alice).post(
        f"/api/deployment-requests/{request_id}/reject", {"comment": ""}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["fields"] == {"comment": ["A rejection needs a comment saying why."]}

    # the board's page shows it, and nothing was recorded by any of the three
    board = Client()
    board.force_login(alice)
    page = board.post(f"/requests/{request_id}/reject", {"comment": ""}, follow=True)
    assert "A rejection needs a comment saying why." in page.content.decode()
    assert not Approval.objects.filter(request_id=request_id).exists()
    assert not AuditEvent.objects.filter(action="gate.reject").exists()
    assert gate.load(request_id).status == "pending"


def test_the_list_s_filters_are_a_filterset_naming_the_bad_parameter(api, pipeline, version):
    client = api(pipeline)
    ask(client, version)
    assert client.get("/api/deployment-requests/?kind=deploy&status=pending").json()["count"] == 1
    assert client.get("/api/deployment-requests/?kind=rollback").json()["count"] == 0
    for name, values in (
        ("status", "pending, approved, denied, superseded"),
        ("kind", "deploy, rollback"),
    ):
        answer = client.get(f"/api/deployment-requests/?{name}=maybe")
        assert answer.status_code == 400
        assert answer.json()["fields"] == {name: [f"Use one of {values}."]}
