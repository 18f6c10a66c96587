"""Lineage made the way pipelines make it: OpenLineage START and COMPLETE events
through ``lineage.services.ingest_event``, never by writing rows."""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from django.db.models import Max

from lineage.models import DatasetVersion, Run
from lineage.services import ingest_event

PRODUCER = "https://example.com/govreg-tests"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def md5(text: str) -> str:
    return "md5:" + hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - a content id


def ds(name: str, version: str | None = None, namespace: str = "s3://lake") -> dict:
    """A dataset in an event; ``version`` is its content hash (``md5:...``) if known."""
    spec = {"namespace": namespace, "name": name, "facets": {}}
    if version is not None:
        spec["facets"]["version"] = {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/"
            "DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
            "datasetVersion": version,
        }
    return spec


RUN_EVERY = timedelta(minutes=10)


def next_start() -> datetime:
    """The story's clock is the lineage the test has written so far: each run starts ten
    minutes after the latest run already recorded, the first at T0 + 10 minutes. It lives in
    the test's own database, so no count carries over from one test to the next."""
    latest = Run.objects.aggregate(latest=Max("started_at"))["latest"]
    return max(latest or T0, T0) + RUN_EVERY


def emit_run(job: str, inputs=(), outputs=(), *, namespace: str = "pipelines") -> Run:
    """One run of ``job`` reading ``inputs`` and writing ``outputs`` (START, then COMPLETE)."""
    run_id = str(uuid.uuid4())
    start = next_start()
    for event_type, moment in (("START", start), ("COMPLETE", start + timedelta(minutes=5))):
        ingest_event(
            {
                "eventType": event_type,
                "eventTime": moment.isoformat(),
                "producer": PRODUCER,
                "schemaURL": SCHEMA,
                "run": {"runId": run_id, "facets": {}},
                "job": {"namespace": namespace, "name": job, "facets": {}},
                "inputs": list(inputs),
                "outputs": list(outputs) if event_type == "COMPLETE" else [],
            }
        )
    return Run.objects.select_related("job__namespace").get(run_id=run_id)


def version_of(name: str, version: str, namespace: str = "s3://lake") -> DatasetVersion:
    return DatasetVersion.objects.get(
        dataset__namespace__name=namespace, dataset__name=name, version=version
    )


def training_chain(prefix: str = "loans") -> dict:
    """raw data -> feature job -> features -> training job -> model artifact.

    Two raw inputs (applications, bureau scores) feed a feature job; its output
    and a labels table feed the training run, which writes the artifact.
    """
    raw_a = ds(f"{prefix}/raw/applications", md5(f"{prefix}-applications-v1"))
    raw_b = ds(f"{prefix}/raw/bureau_scores", md5(f"{prefix}-bureau-v1"))
    features = ds(f"{prefix}/features/applicant_features", md5(f"{prefix}-features-v1"))
    labels = ds(f"{prefix}/labels/defaults", md5(f"{prefix}-labels-v1"))
    artifact = ds(
        f"{prefix}/models/artifact", md5(f"{prefix}-artifact-v1"), namespace="s3://models"
    )
    feature_run = emit_run(f"{prefix}_build_features", [raw_a, raw_b], [features])
    training_run = emit_run(f"{prefix}_train", [features, labels], [artifact])
    return {
        "feature_run": feature_run,
        "training_run": training_run,
        "raw_a": version_of(raw_a["name"], raw_a["facets"]["version"]["datasetVersion"]),
        "raw_b": version_of(raw_b["name"], raw_b["facets"]["version"]["datasetVersion"]),
        "features": version_of(features["name"], features["facets"]["version"]["datasetVersion"]),
        "labels": version_of(labels["name"], labels["facets"]["version"]["datasetVersion"]),
    }
