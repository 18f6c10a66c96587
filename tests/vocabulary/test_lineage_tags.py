"""Tags from lineage land on the shared vocabulary: Marquez's tag endpoints and the
OpenLineage ``tags`` dataset facet (on the dataset or one of its fields) make the same
assignments as the vocabulary's own API, and a search by tag finds the dataset."""

import pytest

from audit.models import AuditEvent
from lineage.models import Dataset
from lineage.services import ingest_event
from tests.lineage.factories import dataset, facet, run_event, schema_facet
from vocabulary.models import Assignment, Tag

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def labels_of(dataset_row):
    rows = Assignment.objects.filter(object_id=dataset_row.pk, content_type__model="dataset")
    return sorted((a.field, a.label, a.source) for a in rows.select_related("tag__classification"))


def tags_facet(*entries):
    return facet("TagsDatasetFacet", tags=list(entries))


def test_marquez_tag_endpoints_land_on_the_vocabulary(api, pipeline, owner):
    ci = api(pipeline)
    ingest_event(
        run_event(job="etl", outputs=[dataset("clean", schema=schema_facet("id", "email"))])
    )
    assert (
        ci.put(f"{V1}/tags/PII", {"description": "personal data"}, format="json").status_code == 200
    )
    assert (
        Tag.objects.get(classification__name="Lineage", name="PII").description == "personal data"
    )
    assert (
        ci.post(f"{V1}/namespaces/warehouse/datasets/clean/tags/PII.Sensitive").status_code == 200
    )
    field = ci.post(f"{V1}/namespaces/warehouse/datasets/clean/fields/email/tags/PII")
    assert field.status_code == 200
    clean = Dataset.objects.get(name="clean")
    assert labels_of(clean) == [
        ("", "PII.Sensitive", "marquez"),
        ("email", "Lineage.PII", "marquez"),
    ]
    # the same again changes nothing
    ci.post(f"{V1}/namespaces/warehouse/datasets/clean/tags/PII.Sensitive")
    assert Assignment.objects.count() == 2
    hits = api(owner).get("/api/search?tag=PII.Sensitive").json()["results"]
    assert [(h["target_type"], h["title"]) for h in hits] == [("dataset", "warehouse:clean")]
    assert (
        AuditEvent.objects.filter(action="vocabulary.assign", object_id=str(clean.pk)).count() == 2
    )


def test_openlineage_tag_facets_land_on_the_vocabulary(api, owner):
    tagged = dataset(
        "applications",
        schema=schema_facet("id", "email"),
        tags=tags_facet(
            {"key": "PII", "value": "NonSensitive", "source": "dbt"},
            {"key": "contains_email", "value": "true", "field": "email"},
        ),
    )
    ingest_event(run_event(job="load", outputs=[tagged]))
    applications = Dataset.objects.get(name="applications")
    assert labels_of(applications) == [
        ("", "PII.NonSensitive", "openlineage"),
        ("email", "Lineage.contains_email", "openlineage"),
    ]
    # Marquez's view shows the same tags
    shown = api(owner).get(f"{V1}/namespaces/warehouse/datasets/applications").json()
    assert "PII.NonSensitive" in shown["tags"]
    # a newer event says Sensitive: the exclusive classification keeps the newest statement
    ingest_event(
        run_event(
            job="load",
            minutes=5,
            outputs=[
                dataset(
                    "applications",
                    tags=tags_facet({"key": "PII", "value": "Sensitive", "source": "dbt"}),
                )
            ],
        )
    )
    assert ("", "PII.Sensitive", "openlineage") in labels_of(applications)
    assert ("", "PII.NonSensitive", "openlineage") not in labels_of(applications)
    removed = AuditEvent.objects.get(action="vocabulary.remove", object_id=str(applications.pk))
    assert removed.before["tag"] == "PII.NonSensitive"


def test_events_without_tag_facets_cost_no_vocabulary_query():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        ingest_event(run_event(job="plain", outputs=[dataset("plain")]))
    assert not [q for q in queries.captured_queries if "vocabulary_" in q["sql"]]
