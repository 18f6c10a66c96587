"""A version's CycloneDX 1.6 ML-BOM: validated against the official schema that
cyclonedx-python-lib ships, with the model card, evaluations, risks, the training data
derived from lineage (content hashes, provenance) and the lineage as dependencies."""

import base64
import importlib
import io
import json
import zipfile

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from django.apps import apps
from django.utils import timezone

from audit.models import AuditEvent
from registry import ml_bom
from registry.models import ModelVersion
from risk.models import Control, Evaluation
from tests.risk.factories import make_risk


def validate(document):
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(document)) is None


def test_the_ml_bom_of_a_version(client_for, owner, model, version, chain):
    model.card_metadata = {"license": "apache-2.0", "pipeline_tag": "tabular-classification"}
    model.save()
    Evaluation.objects.create(
        model_version=version,
        kind="edge-case",
        name="thin files",
        metrics={"roc_auc": 0.87, "note": ["not a number"]},
        outcome="passed",
    )
    importlib.import_module("risk.migrations.0002_seed_matrix_and_required_evaluations").seed(
        apps, None
    )
    risk = make_risk(
        model.team,
        owner,
        links={"ml_models": [model]},
        title="Proxy discrimination",
        category="bias-fairness",
    )
    Control.objects.create(risk=risk, title="Quarterly proxy audit", owner=owner)
    answer = client_for(owner).get("/api/models/loan-default/versions/1/ml-bom")
    assert answer.status_code == 200, answer.content
    bom = answer.json()
    validate(bom)
    assert bom["specVersion"] == "1.6"
    subject = bom["metadata"]["component"]
    assert subject["type"] == "machine-learning-model"
    assert subject["hashes"] == [{"alg": "SHA-256", "content": version.artifact_digest[7:]}]
    assert subject["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    card = subject["modelCard"]
    assert card["modelParameters"]["task"] == "tabular-classification"
    assert card["quantitativeAnalysis"]["performanceMetrics"] == [
        {"type": "roc_auc", "value": "0.87", "slice": "thin files (edge-case, passed)"}
    ]
    considerations = card["considerations"]
    assert considerations["useCases"] == [model.intended_use]
    assert model.known_limitations in considerations["technicalLimitations"]
    assert considerations["fairnessAssessments"][0]["mitigationStrategy"] == (
        "Quarterly proxy audit"
    )
    # The training data from lineage: all four upstream dataset versions.
    data = {c["name"]: c for c in bom["components"]}
    assert set(data) == {
        "s3://lake/loans/raw/applications",
        "s3://lake/loans/raw/bureau_scores",
        "s3://lake/loans/features/applicant_features",
        "s3://lake/loans/labels/defaults",
    }
    features = data["s3://lake/loans/features/applicant_features"]
    assert features["type"] == "data"
    assert features["hashes"] == [{"alg": "MD5", "content": chain["features"].content_hash[4:]}]
    provenance = {p["name"]: p["value"] for p in features["properties"]}
    assert provenance["govreg:producing_job"] == "pipelines/loans_build_features"
    assert {d["ref"] for d in card["modelParameters"]["datasets"]} == {
        c["bom-ref"] for c in bom["components"]
    }
    # Lineage: the model on what training read, the features on the raw data.
    depends = {d["ref"]: set(d["dependsOn"]) for d in bom["dependencies"]}
    assert depends[subject["bom-ref"]] == {
        features["bom-ref"],
        data["s3://lake/loans/labels/defaults"]["bom-ref"],
    }
    assert depends[features["bom-ref"]] == {
        data["s3://lake/loans/raw/applications"]["bom-ref"],
        data["s3://lake/loans/raw/bureau_scores"]["bom-ref"],
    }
    event = AuditEvent.objects.get(action="ml_bom.exported")
    assert event.after["serial_number"] == bom["serialNumber"]


def test_a_version_without_lineage_or_hex_digest_still_validates(client_for, owner, model):
    bare = ModelVersion.objects.create(
        model=model, version="2", artifact_uri="model.pkl", artifact_digest="mlflow:run-7"
    )
    model.card_metadata = {"license": "other", "license_name": "acme-model-licence"}
    model.save()
    bom = client_for(owner).get("/api/models/loan-default/versions/2/ml-bom").json()
    validate(bom)
    subject = bom["metadata"]["component"]
    assert "hashes" not in subject
    assert {"name": "govreg:artifact_digest", "value": "mlflow:run-7"} in subject["properties"]
    assert subject["licenses"] == [{"license": {"name": "acme-model-licence"}}]
    assert bom["components"] == []
    assert bare.version == "2"


def test_who_may_read_it(client_for, outsider, auditor, version):
    assert client_for(outsider).get("/api/models/loan-default/versions/1/ml-bom").status_code == 404
    assert client_for(auditor).get("/api/models/loan-default/versions/9/ml-bom").status_code == 404
    answer = client_for(auditor).get(
        "/api/models/loan-default/versions/1/ml-bom",
        HTTP_ACCEPT="application/vnd.cyclonedx+json",
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/vnd.cyclonedx+json")


def test_an_invalid_bom_is_never_handed_out(version):
    document = ml_bom.build(version, user=None)
    document["metadata"]["component"]["type"] = "model"
    try:
        ml_bom.validate(document)
    except ml_bom.InvalidBom as exc:
        assert "metadata/component/type" in str(exc)
    else:
        raise AssertionError("an invalid component type validated")


def test_the_dossier_bundle_holds_the_ml_bom(client_for, auditor, version, settings):
    key = Ed25519PrivateKey.generate().private_bytes_raw()
    settings.GOVREG_AUDIT_SIGNING_KEY = base64.b64encode(key).decode()
    settings.GOVREG_SIGNING_KEY_FILE = None
    answer = client_for(auditor).get("/api/models/loan-default/dossier?version=1&format=bundle")
    assert answer.status_code == 200
    with zipfile.ZipFile(io.BytesIO(answer.content)) as bundle:
        names = bundle.namelist()
        assert "ml-bom.cdx.json" in names
        bom = json.loads(bundle.read("ml-bom.cdx.json"))
    validate(bom)
    assert bom["metadata"]["component"]["version"] == "1"
    moment = timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    as_of = client_for(auditor).get(
        "/api/models/loan-default/dossier",
        {"version": "1", "format": "bundle", "asOf": moment},
    )
    assert as_of.status_code == 200, as_of.content
    with zipfile.ZipFile(io.BytesIO(as_of.content)) as bundle:
        assert "ml-bom.cdx.json" not in bundle.namelist()  # the ML-BOM is of now only


def test_the_ml_bom_reads_a_bounded_number_of_queries(
    client_for, auditor, model, version, chain, django_assert_max_num_queries
):
    client = client_for(auditor)
    url = "/api/models/loan-default/versions/1/ml-bom"
    client.get(url)  # warm the per-process caches (content types, permissions)
    with django_assert_max_num_queries(20):
        answer = client.get(url)
    assert answer.status_code == 200
    assert len(answer.json()["components"]) == 4
