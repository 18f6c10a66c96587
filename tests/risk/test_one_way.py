"""Issue #11, the risk register's part: the acceptance rule lives in ``Risk.clean()``
(the API and the admin both ask it), the heat map's filters are a FilterSet, and the
heat map and classification answers are rendered by the serializers the schema shows."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator

from risk.choices import RiskStatus, Treatment
from risk.models import Risk
from tests.risk.factories import make_risk

pytestmark = pytest.mark.django_db


def test_a_risk_is_not_accepted_by_hand_whoever_saves_it(team, owner):
    risk = make_risk(team, owner)
    risk.treatment = Treatment.ACCEPT
    with pytest.raises(ValidationError) as caught:
        risk.full_clean()
    assert set(caught.value.message_dict) == {"treatment"}
    risk.refresh_from_db()
    risk.status = RiskStatus.ACCEPTED
    with pytest.raises(ValidationError) as caught:
        risk.full_clean()
    assert "acceptance request" in caught.value.message_dict["status"][0]
    # another change of an open risk is fine
    risk.refresh_from_db()
    risk.title = "renamed"
    risk.full_clean()


def test_the_api_gives_the_models_answer(client_for, team, owner):
    risk = make_risk(team, owner)
    answer = client_for(owner).patch(
        f"/api/risks/{risk.pk}/", {"status": "accepted"}, format="json"
    )
    assert answer.status_code == 400
    message = answer.json()["fields"]["status"][0]
    assert message == Risk(pk=None, status=RiskStatus.ACCEPTED).acceptance_problems()["status"]
    assert Risk.objects.get(pk=risk.pk).status == RiskStatus.OPEN


def test_heatmap_filters_name_the_bad_parameter(client_for, owner):
    api = client_for(owner)
    bad_status = api.get("/api/risks/heatmap", {"status": "burning"})
    assert bad_status.status_code == 400
    assert list(bad_status.json()["fields"]) == ["status"]
    bad_matrix = api.get("/api/risks/heatmap", {"matrix": "1.5"})
    assert bad_matrix.status_code == 400
    assert bad_matrix.json()["fields"] == {"matrix": ["Give the matrix id as a number."]}
    missing = api.get("/api/risks/heatmap", {"matrix": "999999"})
    assert missing.status_code == 404
    assert missing.json()["fields"] == {"matrix": ["No risk matrix 999999."]}


def _component(schema, path, method="get"):
    ref = schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    name = ref["schema"]["$ref"].rsplit("/", 1)[-1]
    return schema["components"]["schemas"][name]


def test_heatmap_and_classification_answers_are_what_the_schema_says(client_for, team, owner):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    heatmap = _component(schema, "/api/risks/heatmap")
    body = client_for(owner).get("/api/risks/heatmap").json()
    assert set(body) == set(heatmap["properties"]) == {"matrix", "total", "inherent", "residual"}
    classify = _component(schema, "/api/thresholds/{id}/classify/")
    assert set(classify["properties"]) == {
        "threshold",
        "metric",
        "value",
        "classification",
        "comparator",
    }


def test_a_one_page_list_costs_no_count_query(client_for, team, owner):
    for index in range(3):
        make_risk(team, owner, title=f"risk {index}")
    with CaptureQueriesContext(connection) as queries:
        body = client_for(owner).get("/api/risks/").json()
    assert body["count"] == 3 and len(body["results"]) == 3
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
