"""The technical documentation of a model version (EU AI Act Art. 11, Annex IV).

The dossier is assembled from **registered sections**, the way the gate asks
registered checks: each app contributes the sections it knows in its own
``dossier.py`` (registered in ``AppConfig.ready``), each saying which of Annex IV's
nine points it serves, and the registry never imports the apps above it. A section
is a function ``(version, context) -> SectionData | None``; ``None`` (or nothing in
it) says govreg has no record for it, and the dossier says "not recorded" there.

``asOf``: with ``context.as_of`` set, every section leaves out what was recorded
later (``created_at`` and the like after that moment) and reads state that changes
(a card, a version's status, a risk's levels, a deployment's state, an incident's
status...) as the audit trail's last snapshot of the record at that moment
(``as_it_stood``); the lineage walk ignores edges recorded later. Values the trail
does not snapshot (a model's team, a user's name) are read as they are now.

The same document renders as JSON (``registry/schema/dossier.schema.json`` is its
JSON Schema, served at ``/api/schemas/dossier.json``) and as PDF (``render_pdf``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from django.db.models import Model
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.permissions import scope_queryset
from audit.models import AuditEvent
from audit.services import record_decision
from config.errors import BadParameter
from registry.models import MLModel, ModelVersion
from registry.pdf import NOT_RECORDED, Document, text_of

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "dossier.schema.json"
SCHEMA_URL_NAME = "dossier-schema"
FORMAT_VERSION = 1

ANNEX_IV_POINTS: dict[int, str] = {
    1: "General description of the AI system",
    2: "Elements of the AI system and the process of its development",
    3: "Monitoring, functioning and control of the AI system",
    4: "Appropriateness of the performance metrics",
    5: "The risk-management system (Art. 9)",
    6: "Changes made to the system through its lifecycle",
    7: "Harmonised standards and other solutions applied",
    8: "EU declaration of conformity",
    9: "Post-market monitoring (Art. 72)",
}


# --- what a section gives -------------------------------------------------------------


@dataclass
class Table:
    """Rows of one kind of record; ``columns`` are ``(key, label)`` pairs, each row a
    dict keyed by the columns' keys."""

    key: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[dict]
    note: str = ""
    widths: tuple[float, ...] | None = None  # relative column widths on the page


@dataclass
class SectionData:
    """What a section found: a paragraph, labelled facts, tables and a list."""

    text: str = ""
    facts: list[tuple[str, str, Any]] = field(default_factory=list)  # (key, label, value)
    tables: list[Table] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    items_title: str = ""

    @property
    def recorded(self) -> bool:
        return bool(
            self.text
            or any(not _empty(value) for _, _, value in self.facts)
            or any(table.rows for table in self.tables)
            or self.items
        )


@dataclass(frozen=True)
class DossierSection:
    key: str
    title: str
    point: int
    order: int
    build: Callable[[ModelVersion, DossierContext], SectionData | None]


_sections: dict[str, DossierSection] = {}


def dossier_section(key: str, *, point: int, title: str, order: int = 100):
    """Register ``build(version, context)`` as the dossier section ``key``, serving
    Annex IV point ``point`` (1-9); sections of a point appear by ``order``."""
    if point not in ANNEX_IV_POINTS:
        raise ValueError(f"Annex IV has points 1 to 9, not {point}.")

    def register(build):
        _sections[key] = DossierSection(key, title, point, order, build)
        return build

    return register


def registered_sections() -> list[DossierSection]:
    return sorted(_sections.values(), key=lambda s: (s.point, s.order, s.key))


# --- the context every section receives -------------------------------------------------


@dataclass
class DossierContext:
    """What a section reads from: the model and version (as they stood at ``as_of``),
    who asks (records are scoped to what they may see), and a cache sections of one
    dossier share (``once``)."""

    model: MLModel
    version: ModelVersion
    user: Any
    as_of: datetime | None
    generated_at: datetime
    cache: dict = field(default_factory=dict)

    def until(self, queryset, lookup: str = "created_at"):
        """``queryset`` without the rows recorded after ``as_of``."""
        if self.as_of is None:
            return queryset
        return queryset.filter(**{f"{lookup}__lte": self.as_of})

    def scoped(self, queryset, path="pk", scope_model=None):
        """``queryset`` narrowed to what the reader may see (``accounts.permissions``)."""
        return scope_queryset(queryset, self.user, path, scope_model)

    def stood(self, objects, fields: Iterable[str]):
        """``objects`` with ``fields`` as they stood at ``as_of`` (see ``as_it_stood``)."""
        return as_it_stood(objects, self.as_of, fields)

    def after(self, moment) -> bool:
        """Whether ``moment`` lies after ``as_of`` (a decision not yet taken then)."""
        return self.as_of is not None and moment is not None and moment > self.as_of

    def once(self, key, compute: Callable[[], Any]):
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


def as_it_stood(objects, as_of: datetime | None, fields: Iterable[str]):
    """Set ``fields`` of each object to the value in the audit trail's last snapshot of
    it at or before ``as_of`` (one query per kind of record). Objects with no snapshot
    by then keep their values. Without ``as_of``, nothing changes."""
    objects = list(objects)
    if as_of is None or not objects:
        return objects
    model = type(objects[0])
    rows = (
        AuditEvent.objects.filter(
            object_type=model._meta.label_lower,
            object_id__in=[str(obj.pk) for obj in objects],
            action__in=("create", "update"),
            created_at__lte=as_of,
        )
        .order_by("seq")
        .values_list("object_id", "after")
    )
    latest = {object_id: after for object_id, after in rows}
    model_fields = [model._meta.get_field(name) for name in fields]
    for obj in objects:
        snapshot = latest.get(str(obj.pk))
        if not snapshot:
            continue
        for model_field in model_fields:
            if model_field.attname in snapshot:
                value = model_field.to_python(snapshot[model_field.attname])
                setattr(obj, model_field.attname, value)
    return objects


# --- assembly -------------------------------------------------------------------------


def parse_as_of(raw: str | None) -> datetime | None:
    """An ``asOf`` query value: an ISO 8601 time (a date means its end, UTC)."""
    if raw in (None, ""):
        return None
    text = raw.strip().replace(" ", "+")  # a '+' of an unencoded offset arrives as a space
    try:
        moment = parse_datetime(text)
        day = None if moment else parse_date(text)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise BadParameter("must be an ISO 8601 time, e.g. 2026-05-01T10:00:00Z", field="asOf")
    if moment is None:
        moment = datetime.combine(day, datetime.max.time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    if moment > timezone.now():
        raise BadParameter("lies in the future", field="asOf")
    return moment


def pick_version(model: MLModel, label: str | None, as_of: datetime | None) -> ModelVersion:
    """The version ``label`` of ``model``; without a label, the newest one registered by
    ``as_of`` (or now)."""
    versions = model.versions.select_related("model__team", "training_run", "registered_by")
    if label:
        version = versions.filter(version=label).first()
        if version is None:
            raise BadParameter(f"{model.name} has no version {label!r}", field="version")
    else:
        candidates = versions.order_by("-created_at", "-pk")
        if as_of is not None:
            candidates = candidates.filter(created_at__lte=as_of)
        version = candidates.first()
        if version is None and as_of is not None:
            raise BadParameter(f"{model.name} had no version registered by then", field="asOf")
        if version is None:
            raise BadParameter(f"{model.name} has no version yet", field="version")
    if as_of is not None and version.created_at > as_of:
        raise BadParameter(
            f"{version} was registered on {version.created_at:%Y-%m-%d %H:%M} UTC, after asOf",
            field="asOf",
        )
    version.model = model
    return version


def build_dossier(version: ModelVersion, *, user, as_of: datetime | None = None, now=None):
    """The dossier of ``version`` as a JSON-ready dict (see the module's docstring)."""
    now = now or timezone.now()
    model = version.model
    as_it_stood(
        [model],
        as_of,
        (*MLModel.CARD_FIELDS, *MLModel.REGULATORY_FIELDS, "description", "risk_tier"),
    )
    as_it_stood([version], as_of, ("status", "description"))
    context = DossierContext(model=model, version=version, user=user, as_of=as_of, generated_at=now)
    by_point: dict[int, list[dict]] = {point: [] for point in ANNEX_IV_POINTS}
    for section in registered_sections():
        data = section.build(version, context)
        by_point[section.point].append(_section_json(section, data))
    points = []
    for point, title in ANNEX_IV_POINTS.items():
        sections = by_point[point]
        recorded = any(s["recorded"] for s in sections)
        entry = {"point": point, "title": title, "recorded": recorded, "sections": sections}
        if not recorded:
            entry["note"] = NOT_RECORDED
        points.append(entry)
    return {
        "format": "govreg-dossier",
        "format_version": FORMAT_VERSION,
        "generated_at": _plain(now),
        "as_of": _plain(as_of),
        "model": {
            "id": model.pk,
            "name": model.name,
            "team": model.team.name,
            "risk_tier": model.risk_tier,
            "provider": model.provider or None,
        },
        "version": {
            "id": version.pk,
            "version": version.version,
            "status": version.status,
            "artifact_digest": version.artifact_digest,
            "registered_at": _plain(version.created_at),
        },
        "points": points,
    }


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _plain(value):
    """A value as JSON holds it: times in UTC ISO 8601, decimals as numbers."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Model):
        return str(value)
    return value


def _section_json(section: DossierSection, data: SectionData | None) -> dict:
    data = data or SectionData()
    body = {
        "key": section.key,
        "title": section.title,
        "point": section.point,
        "recorded": data.recorded,
        "text": data.text,
        "facts": [
            {"key": key, "label": label, "value": _plain(value)} for key, label, value in data.facts
        ],
        "tables": [
            {
                "key": table.key,
                "title": table.title,
                "columns": [{"key": key, "label": label} for key, label in table.columns],
                "rows": [
                    {key: _plain(row.get(key)) for key, _ in table.columns} for row in table.rows
                ],
                "note": table.note,
                **({"widths": list(table.widths)} if table.widths else {}),
            }
            for table in data.tables
        ],
        "items_title": data.items_title,
        "items": list(data.items),
    }
    if not data.recorded:
        body["note"] = NOT_RECORDED
    return body


def as_json_bytes(document: dict) -> bytes:
    """The dossier as the file a bundle holds (UTF-8, keys in document order)."""
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


# --- JSON Schema ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def dossier_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def validate_dossier(document: dict) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``document`` follows the schema."""
    jsonschema.validate(document, dossier_schema(), cls=jsonschema.Draft202012Validator)


# --- PDF ------------------------------------------------------------------------------


def render_pdf(document: dict) -> bytes:
    """The dossier as a PDF a person reads: a title page with the nine points and
    whether each is recorded, then one heading per point, its sections' facts,
    tables and lists."""
    model, version = document["model"], document["version"]
    name = f"{model['name']}@{version['version']}"
    pdf = Document(
        title=f"Technical documentation of {name}",
        running_title=f"{name} - technical documentation (EU AI Act Annex IV)",
    )
    stood = document["as_of"]
    pdf.title_block(
        f"Technical documentation of {name}",
        [
            "EU AI Act Art. 11 and Annex IV",
            f"Provider: {model['provider'] or NOT_RECORDED}",
            f"Model: {model['name']} (team {model['team']}, risk tier {model['risk_tier']})",
            f"Version: {version['version']} ({version['status']}), "
            f"artifact {version['artifact_digest']}",
            f"As it stood: {text_of(stood) if stood else 'when generated'}",
            f"Generated: {text_of(document['generated_at'])}",
        ],
    )
    pdf.heading("Contents", 2)
    pdf.rows(
        ["Point", "Annex IV", "Recorded"],
        [
            [str(p["point"]), p["title"], "yes" if p["recorded"] else NOT_RECORDED]
            for p in document["points"]
        ],
        widths=(10, 70, 20),
        size=9,
    )
    for point in document["points"]:
        pdf.heading(f"{point['point']}. {point['title']}", 1)
        if not point["sections"]:
            pdf.not_recorded()
            continue
        for section in point["sections"]:
            pdf.heading(section["title"], 2)
            if not section["recorded"]:
                pdf.not_recorded()
                continue
            if section["text"]:
                pdf.paragraph(section["text"])
            pdf.facts([(fact["label"], fact["value"]) for fact in section["facts"]])
            for table in section["tables"]:
                pdf.heading(table["title"], 3)
                if not table["rows"]:
                    pdf.not_recorded()
                    continue
                if table["note"]:
                    pdf.paragraph(table["note"], muted=True)
                keys = [column["key"] for column in table["columns"]]
                pdf.rows(
                    [column["label"] for column in table["columns"]],
                    [[row.get(key) for key in keys] for row in table["rows"]],
                    widths=table.get("widths"),
                )
            if section["items"]:
                if section["items_title"]:
                    pdf.heading(section["items_title"], 3)
                pdf.bullets(section["items"])
    return pdf.render()


__all__ = [
    "ANNEX_IV_POINTS",
    "DossierContext",
    "DossierSection",
    "SectionData",
    "Table",
    "as_it_stood",
    "build_dossier",
    "dossier_schema",
    "dossier_section",
    "parse_as_of",
    "pick_version",
    "registered_sections",
    "render_pdf",
    "validate_dossier",
]


# --- the export (the one write) ----------------------------------------------------------


FORMATS = ("json", "pdf", "bundle")


def record_export(version: ModelVersion, *, fmt: str, as_of: datetime | None, document: dict):
    """Each dossier handed out is an audit event ``dossier.exported`` on the version:
    who (the event's actor), which format, as of when, and what it said per point."""
    return record_decision(
        "dossier.exported",
        version,
        model=version.model.name,
        version=version.version,
        format=fmt,
        as_of=_plain(as_of),
        generated_at=document["generated_at"],
        recorded_points=[p["point"] for p in document["points"] if p["recorded"]],
    )
