"""A model version's AI bill of materials: a CycloneDX 1.6 ML-BOM.

The version is the BOM's subject (``metadata.component``), a ``machine-learning-model``
component with its artifact digest (``hashes``), licence (from the card's metadata),
where the artifact and the code live (``externalReferences``) and its ``modelCard``:
model parameters (task, the training datasets by reference), quantitative analysis
and considerations. Its training data (derived from lineage, as the gate and the
dossier derive it) are ``data`` components with their content hashes and provenance
(the run and job that produced each), and the lineage is the BOM's ``dependencies``:
the model on the dataset versions its training run read, each dataset version on the
ones its producing run read.

``cyclonedx-python-lib`` does not model ``modelCard``, so the JSON is built here and
every export is validated against the official CycloneDX 1.6 JSON schema that library
ships (``JsonStrictValidator``): an export that does not validate is never handed out.

Apps above the registry add what they know through **registered parts** (the way
dossier sections are registered): a part is ``(version, user) -> BomPart`` adding
performance metrics and considerations (the risk register adds evaluation metrics
and its risks). The registry never imports them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from cyclonedx.schema import SchemaVersion
from cyclonedx.spdx import fixup_id
from cyclonedx.validation.json import JsonStrictValidator
from django.db.models import prefetch_related_objects
from django.utils import timezone

from audit.services import record_decision
from lineage.models import RunInput
from registry import services
from registry.models import ModelVersion

SPEC_VERSION = "1.6"
MEDIA_TYPE = "application/vnd.cyclonedx+json"
# Digest prefixes govreg sees (OCI, DVC, MLflow) and CycloneDX's names for them.
HASH_ALGORITHMS = {
    "md5": "MD5",
    "sha1": "SHA-1",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
    "sha3-256": "SHA3-256",
    "sha3-512": "SHA3-512",
    "blake2b-256": "BLAKE2b-256",
    "blake2b-512": "BLAKE2b-512",
}
# The hex lengths CycloneDX's hash content pattern accepts.
_HEX_LENGTHS = (32, 40, 64, 96, 128)
_HEX = re.compile(r"^[a-fA-F0-9]+$")
CONSIDERATION_LISTS = (
    "users",
    "useCases",
    "technicalLimitations",
    "performanceTradeoffs",
    "ethicalConsiderations",
    "fairnessAssessments",
)


class InvalidBom(Exception):
    """The BOM built does not follow the CycloneDX 1.6 schema (a programming error)."""


@dataclass
class BomPart:
    """What an app adds to a version's model card: ``performance_metrics`` as
    CycloneDX ``performanceMetric`` objects, ``considerations`` by CycloneDX key
    (users, useCases, technicalLimitations, ethicalConsiderations...)."""

    performance_metrics: list[dict] = field(default_factory=list)
    considerations: dict[str, list] = field(default_factory=dict)


_parts: dict[str, Callable[[ModelVersion, object], BomPart | None]] = {}


def ml_bom_part(key: str):
    """Register ``build(version, user) -> BomPart | None`` as the ML-BOM part ``key``."""

    def register(build):
        _parts[key] = build
        return build

    return register


def _govreg_version() -> str:
    try:
        return package_version("govreg")
    except PackageNotFoundError:
        return "0"


def hashes(digest: str | None) -> list[dict]:
    """``[{"alg", "content"}]`` for ``algorithm:hex``; empty when the digest is not one
    CycloneDX can carry (kept as a property instead)."""
    if not digest or ":" not in digest:
        return []
    algorithm, _, content = digest.partition(":")
    name = HASH_ALGORITHMS.get(algorithm.strip().lower())
    if name is None or len(content) not in _HEX_LENGTHS or not _HEX.match(content):
        return []
    return [{"alg": name, "content": content.lower()}]


def _property(name: str, value) -> dict:
    return {"name": f"govreg:{name}", "value": str(value)}


def licenses(metadata: dict) -> list[dict]:
    """The card's licence as an SPDX id when it is one, else by name."""
    raw = metadata.get("license")
    if not raw or not isinstance(raw, str):
        return []
    spdx = fixup_id(raw)
    if spdx:
        return [{"license": {"id": spdx}}]
    name = metadata.get("license_name") if raw == "other" else None
    entry = {"name": str(name or raw)}
    link = metadata.get("license_link")
    if isinstance(link, str) and link.startswith(("http://", "https://")):
        entry["url"] = link
    return [{"license": entry}]


def model_ref(version: ModelVersion) -> str:
    return f"model:{version.model.name}@{version.version}"


def dataset_ref(dv) -> str:
    return f"dataset:{dv.dataset.namespace.name}/{dv.dataset.name}@{dv.version}"


def _dataset_component(dv) -> dict:
    run = dv.producing_run
    properties = [_property("status", dv.status)]
    if dv.content_hash:
        properties.append(_property("content_hash", dv.content_hash))
    if run is not None:
        properties.append(_property("producing_run", run.run_id))
        properties.append(_property("producing_job", f"{run.job.namespace.name}/{run.job.name}"))
    for name in ("privacy_notes", "consent_notes", "licence_notes"):
        value = getattr(dv, name)
        if value:
            properties.append(_property(name, value))
    data = {"type": "dataset", "name": f"{dv.dataset.namespace.name}/{dv.dataset.name}"}
    notes = "; ".join(x for x in (dv.privacy_notes, dv.consent_notes) if x)
    if notes:
        data["classification"] = notes[:500]
    component = {
        "type": "data",
        "bom-ref": dataset_ref(dv),
        "name": f"{dv.dataset.namespace.name}/{dv.dataset.name}",
        "version": dv.version,
        "data": [data],
        "properties": properties,
    }
    component_hashes = hashes(dv.content_hash)
    if component_hashes:
        component["hashes"] = component_hashes
    return component


def _lineage(version: ModelVersion, dataset_versions) -> list[dict]:
    """The model on what its training run read, each dataset version on what its
    producing run read (within the training data), every ref once."""
    by_id = {dv.pk: dv for dv in dataset_versions}
    runs = {dv.producing_run_id for dv in dataset_versions if dv.producing_run_id}
    if version.training_run_id:
        runs.add(version.training_run_id)
    read: dict[int, set[int]] = {}
    for run_id, dv_id in RunInput.objects.filter(run_id__in=runs).values_list(
        "run_id", "dataset_version_id"
    ):
        if dv_id in by_id:
            read.setdefault(run_id, set()).add(dv_id)

    def refs(run_id):
        return sorted(dataset_ref(by_id[i]) for i in read.get(run_id, ()))

    dependencies = [{"ref": model_ref(version), "dependsOn": refs(version.training_run_id)}]
    for dv in dataset_versions:
        upstream = [r for r in refs(dv.producing_run_id) if r != dataset_ref(dv)]
        dependencies.append({"ref": dataset_ref(dv), "dependsOn": upstream})
    return dependencies


def _considerations(model, parts: list[BomPart]) -> dict:
    considerations: dict[str, list] = {}
    if model.intended_use.strip():
        considerations["useCases"] = [model.intended_use.strip()]
    limits = [x.strip() for x in (model.known_limitations, model.out_of_scope_uses) if x.strip()]
    if limits:
        considerations["technicalLimitations"] = limits
    if model.ethical_considerations.strip():
        considerations["ethicalConsiderations"] = [{"name": model.ethical_considerations.strip()}]
    for part in parts:
        for key, values in part.considerations.items():
            if key not in CONSIDERATION_LISTS:
                raise ValueError(f"ML-BOM parts may add {CONSIDERATION_LISTS}, not {key!r}")
            considerations.setdefault(key, []).extend(values)
    return considerations


def build(version: ModelVersion, *, user, now=None) -> dict:
    """The ML-BOM of ``version`` as a JSON-ready dict (validate it with ``validate``)."""
    model = version.model
    dataset_versions = services.training_data(version)
    # Each data component names its producing run's job and namespace: read them in
    # two statements, not two per dataset version.
    prefetch_related_objects(dataset_versions, "producing_run__job__namespace")
    parts = [part for build_part in _parts.values() if (part := build_part(version, user))]
    model_card: dict = {
        "modelParameters": {
            "datasets": [{"ref": dataset_ref(dv)} for dv in dataset_versions],
        }
    }
    task = model.card_metadata.get("pipeline_tag")
    if isinstance(task, str) and task:
        model_card["modelParameters"]["task"] = task
    base_model = model.card_metadata.get("base_model")
    if isinstance(base_model, str) and base_model:
        model_card["modelParameters"]["architectureFamily"] = base_model
    metrics = [m for part in parts for m in part.performance_metrics]
    if metrics:
        model_card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    considerations = _considerations(model, parts)
    if considerations:
        model_card["considerations"] = considerations
    properties = [
        _property("risk_tier", model.risk_tier),
        _property("team", model.team.name),
        _property("version_status", version.status),
        _property("artifact_digest", version.artifact_digest),
    ]
    if version.code_commit:
        properties.append(_property("code_commit", version.code_commit))
    if version.training_run_id:
        properties.append(_property("training_run", version.training_run.run_id))
    references = []
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", version.artifact_uri or ""):
        references.append({"type": "distribution", "url": version.artifact_uri})
    if version.code_repository:
        reference = {"type": "vcs", "url": version.code_repository}
        if version.code_commit:
            reference["comment"] = f"commit {version.code_commit}"
        references.append(reference)
    subject = {
        "type": "machine-learning-model",
        "bom-ref": model_ref(version),
        "name": model.name,
        "version": version.version,
        "description": model.description,
        "properties": properties,
        "modelCard": model_card,
    }
    subject_hashes = hashes(version.artifact_digest)
    if subject_hashes:
        subject["hashes"] = subject_hashes
    subject_licenses = licenses(model.card_metadata)
    if subject_licenses:
        subject["licenses"] = subject_licenses
    if references:
        subject["externalReferences"] = references
    when = (now or timezone.now()).replace(microsecond=0)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": uuid.uuid4().urn,
        "version": 1,
        "metadata": {
            "timestamp": when.isoformat().replace("+00:00", "Z"),
            "tools": {
                "components": [
                    {"type": "application", "name": "govreg", "version": _govreg_version()}
                ]
            },
            "component": subject,
        },
        "components": [_dataset_component(dv) for dv in dataset_versions],
        "dependencies": _lineage(version, dataset_versions),
    }


def validate(document: dict) -> None:
    """Raise ``InvalidBom`` unless ``document`` follows the CycloneDX 1.6 JSON schema."""
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(document))
    if error is not None:
        detail = getattr(error, "data", None)
        message = getattr(detail, "message", None) or str(error).splitlines()[0]
        path = "/".join(str(p) for p in getattr(detail, "absolute_path", []))
        raise InvalidBom(f"The ML-BOM does not follow CycloneDX 1.6 at /{path}: {message}")


def export(version: ModelVersion, *, user, now=None) -> dict:
    """Build and validate; the caller records the export (``record_export``)."""
    document = build(version, user=user, now=now)
    validate(document)
    return document


def as_json_bytes(document: dict) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


def record_export(version: ModelVersion, document: dict) -> None:
    """Each ML-BOM handed out is an audit event ``ml_bom.exported`` on the version."""
    record_decision(
        "ml_bom.exported",
        version,
        model=version.model.name,
        version=version.version,
        serial_number=document["serialNumber"],
        datasets=len(document["components"]),
    )
