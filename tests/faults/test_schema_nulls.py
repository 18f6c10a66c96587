"""The OpenAPI document tells the truth (issue 17): fields that answer ``null`` are
declared nullable, and every operation declares its error answers."""

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def components():
    return SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]


@pytest.mark.parametrize(
    "component, field",
    [
        ("ActionItem", "evaluation"),
        ("RiskAcceptance", "decided_by"),
        ("Evaluation", "submitted_by"),
    ],
)
def test_a_field_that_may_be_null_is_declared_nullable(components, component, field):
    assert components[component]["properties"][field].get("nullable") is True


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_operation_declares_its_error_answers(document):
    assert set(document["components"]["schemas"]["Error"]["required"]) == {
        "status",
        "error",
        "message",
    }
    missing = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            wanted = {"400", "403", "429"} | ({"409"} if method != "get" else set())
            if "{" in path:
                wanted.add("404")
            if not wanted <= codes:
                missing.append(f"{method.upper()} {path}: {sorted(wanted - codes)}")
    assert missing == []
    risk_create = document["paths"]["/api/risks/"]["post"]["responses"]["400"]
    assert risk_create["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
