"""Builders of OpenLineage events for the lineage tests."""

import uuid
from datetime import UTC, datetime, timedelta

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.0.0/client/python"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
BASE_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def facet(name: str, **fields) -> dict:
    return {
        "_producer": PRODUCER,
        "_schemaURL": f"https://openlineage.io/spec/facets/1-0-0/{name}.json#/$defs/{name}",
        **fields,
    }


def dataset(name: str, namespace: str = "warehouse", *, version: str | None = None, **facets):
    spec = {"namespace": namespace, "name": name, "facets": dict(facets)}
    if version:
        spec["facets"]["version"] = facet("DatasetVersionDatasetFacet", datasetVersion=version)
    return spec


def schema_facet(*columns: str) -> dict:
    return facet("SchemaDatasetFacet", fields=[{"name": c, "type": "VARCHAR"} for c in columns])


def run_event(
    event_type: str = "COMPLETE",
    *,
    run_id: str | None = None,
    job: str = "train_model",
    namespace: str = "pipelines",
    inputs=(),
    outputs=(),
    at: datetime | None = None,
    minutes: int = 0,
    run_facets: dict | None = None,
) -> dict:
    moment = (at or BASE_TIME) + timedelta(minutes=minutes)
    return {
        "eventType": event_type,
        "eventTime": moment.isoformat(),
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": run_facets or {}},
        "job": {"namespace": namespace, "name": job, "facets": {}},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }
