"""Our schema against the official OpenLineage specification: every sample instance of the
spec placed in an event is accepted; what the spec forbids is refused with 422."""

import copy
import json

import pytest

from lineage.models import LineageEvent
from lineage.validation import InvalidEvent, validate_event
from tests.lineage import spec
from tests.lineage.factories import dataset, run_event

pytestmark = pytest.mark.django_db
URL = "/api/v1/lineage"


def place(facet_file: str, instance: dict) -> dict:
    event = run_event(inputs=[dataset("raw.orders")], outputs=[dataset("clean.orders")])
    for name, value in instance.items():
        base = spec.facet_base(facet_file, name, value)
        target = {
            "RunFacet": event["run"].setdefault("facets", {}),
            "JobFacet": event["job"].setdefault("facets", {}),
            "DatasetFacet": event["outputs"][0]["facets"],
            "InputDatasetFacet": event["inputs"][0].setdefault("inputFacets", {}),
            "OutputDatasetFacet": event["outputs"][0].setdefault("outputFacets", {}),
        }[base]
        target[name] = copy.deepcopy(value)
    return event


@pytest.mark.parametrize(
    ("facet_file", "instance"),
    [pytest.param(f, i, id=test_id) for test_id, f, i in spec.sample_instances()],
)
def test_every_sample_facet_in_an_event_is_accepted(pipeline, facet_file, instance):
    event = place(facet_file, instance)
    assert spec.official_errors(event) == []  # the spec agrees the event is valid
    response = pipeline.post(URL, event, format="json")
    assert response.status_code == 201, response.content
    assert LineageEvent.objects.get().body == json.loads(json.dumps(event))


def test_the_full_example_event_is_accepted(pipeline):
    event = json.loads((spec.SPEC_DIR / "tests" / "example_full_event.json").read_text())
    response = pipeline.post(URL, event, format="json")
    assert response.status_code == 201, response.content


def test_sample_instances_were_found():
    assert len(spec.sample_instances()) >= 30


MUTATIONS = {
    "missing runId": (lambda e: e["run"].pop("runId"), "run.runId"),
    "runId not a string": (lambda e: e["run"].update(runId=12345), "run.runId"),
    "eventTime not a date-time": (lambda e: e.update(eventTime="5 Jan 2026"), "eventTime"),
    "eventType unknown": (lambda e: e.update(eventType="DONE"), "eventType"),
    "missing producer": (lambda e: e.pop("producer"), "producer"),
    "job without name": (lambda e: e["job"].pop("name"), "job.name"),
    "run facet without _producer": (
        lambda e: e["run"]["facets"]["nominalTime"].pop("_producer"),
        "run.facets.nominalTime._producer",
    ),
    "dataset facet without _schemaURL": (
        lambda e: e["outputs"][0]["facets"]["schema"].pop("_schemaURL"),
        "outputs[0].facets.schema._schemaURL",
    ),
}


def _full_event() -> dict:
    from tests.lineage.factories import facet, schema_facet

    return run_event(
        inputs=[dataset("raw.orders")],
        outputs=[dataset("clean.orders", schema=schema_facet("id"))],
        run_facets={
            "nominalTime": facet("NominalTimeRunFacet", nominalStartTime="2026-01-05T09:00:00Z")
        },
    )


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_mutations_the_spec_refuses_are_422_naming_the_field(pipeline, name):
    mutate, field = MUTATIONS[name]
    event = _full_event()
    assert spec.official_errors(event) == []
    mutate(event)
    assert spec.official_errors(event), "the official schema should refuse this too"
    with pytest.raises(InvalidEvent) as caught:
        validate_event(event)
    assert caught.value.field == field
    response = pipeline.post(URL, event, format="json")
    assert response.status_code == 422
    assert list(response.json()["fields"]) == [field]
    assert LineageEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("facet_file", "name", "bad"),
    [
        (
            "ParentRunFacet",
            "parent",
            {"run": {"runId": 7}, "job": {"namespace": "a", "name": "b"}},
        ),
        ("DatasetVersionDatasetFacet", "version", {"datasetVersion": 7}),
        ("SchemaDatasetFacet", "schema", {"fields": [{"type": "INT"}]}),
        ("ColumnLineageDatasetFacet", "columnLineage", {"fields": {"a": {"inputFields": [{}]}}}),
        ("NominalTimeRunFacet", "nominalTime", {"nominalStartTime": "noon"}),
    ],
)
def test_facets_we_interpret_are_checked_like_the_official_facet_schema(facet_file, name, bad):
    instance = {
        name: {"_producer": "https://example.com/p", "_schemaURL": "https://example.com/s", **bad}
    }
    facet_schema = json.loads((spec.SPEC_DIR / "facets" / f"{facet_file}.json").read_text())
    assert list(spec.official_validator(facet_schema["$id"]).iter_errors(instance))
    event = place(facet_file, instance)
    with pytest.raises(InvalidEvent) as caught:
        validate_event(event)
    assert f".{name}" in caught.value.path


def test_a_run_id_that_is_not_a_uuid_is_accepted_as_marquez_accepts_it(pipeline):
    """The spec asks for a UUID; Marquez (and so govreg) takes any non-empty string and
    derives a stable UUID from it. The one deliberate difference with the schema."""
    event = _full_event()
    event["run"]["runId"] = "12345"
    assert spec.official_errors(event), "the official schema asks for a UUID"
    assert validate_event(event) == "RunEvent"
    assert pipeline.post(URL, event, format="json").status_code == 201
