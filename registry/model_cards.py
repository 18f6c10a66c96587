"""Hugging Face model cards in and out: a ``README.md`` with a YAML header, the format
``huggingface_hub``'s ``ModelCard`` / ``ModelCardData`` read and write, parsed here
with that library, locally (nothing is fetched from the hub).

Import maps the card's sections onto govreg's card fields by their headings (the
headings of Hugging Face's default template and govreg's own export), keeps the
metadata that has no field of its own (license, datasets, metrics and model-index,
tags, language...) in ``MLModel.card_metadata``, and reports every section and
metadata key it could not map. Fields the card does not speak of keep their values.
Export writes the same format, so export then import changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from huggingface_hub import ModelCard, ModelCardData

from audit.services import record_decision
from config.errors import BadParameter
from registry.models import MLModel

# Sections mapped onto a card field, by normalized heading. Several headings may feed
# one field (Hugging Face's "Direct Use" and "Downstream Use" both say how it is used);
# their texts are joined in the card's order.
SECTION_FIELDS: dict[str, str] = {
    "model description": "description",
    "description": "description",
    "uses": "intended_use",
    "intended use": "intended_use",
    "intended uses": "intended_use",
    "direct use": "intended_use",
    "downstream use": "intended_use",
    "out-of-scope use": "out_of_scope_uses",
    "out-of-scope uses": "out_of_scope_uses",
    "out of scope use": "out_of_scope_uses",
    "bias, risks, and limitations": "known_limitations",
    "limitations": "known_limitations",
    "known limitations": "known_limitations",
    "capabilities": "capabilities",
    "ethical considerations": "ethical_considerations",
    "human oversight": "human_oversight",
    "recommendations": "human_oversight",
    "model card contact": "contact",
    "contact": "contact",
}
# Metadata keys ModelCardData knows and govreg keeps as they are (card_metadata).
KEPT_METADATA = (
    "license",
    "license_name",
    "license_link",
    "datasets",
    "metrics",
    "model-index",
    "eval_results",
    "tags",
    "language",
    "library_name",
    "pipeline_tag",
    "base_model",
)
# What govreg's export writes for each field (import reads these headings back).
EXPORT_HEADINGS = (
    ("intended_use", "## Uses\n\n### Direct Use"),
    ("out_of_scope_uses", "### Out-of-Scope Use"),
    ("capabilities", "## Capabilities"),
    ("known_limitations", "## Bias, Risks, and Limitations"),
    ("ethical_considerations", "## Ethical Considerations"),
    ("human_oversight", "## Human Oversight"),
    ("contact", "## Model Card Contact"),
)
PLACEHOLDER = "[More Information Needed]"
MAX_CARD_BYTES = 512 * 1024

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# A template's "- **Developed by:** [More Information Needed]" left unanswered.
_EMPTY_FACT = re.compile(r"^\s*[-*]\s+\*\*[^*\n]+\*\*\s*$", re.MULTILINE)
# Why some sections have no card field: govreg keeps them as records of their own.
SECTION_REASONS = {
    "training data": "govreg derives training data from lineage (the version's training run)",
    "training details": "govreg derives training data from lineage (the version's training run)",
    "evaluation": "govreg records evaluations as results of a version (POST /api/evaluations/)",
    "results": "govreg records evaluations as results of a version (POST /api/evaluations/)",
    "testing data, factors & metrics": "govreg records evaluations as results of a version "
    "(POST /api/evaluations/)",
}


@dataclass
class Section:
    level: int
    heading: str
    text: str


@dataclass
class CardImport:
    """What one import found: the values per field, the metadata kept, and what could
    not be mapped (each with where it was and why), plus what changed."""

    values: dict[str, str] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    mapped: list[dict] = field(default_factory=list)
    unmapped: list[dict] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    dry_run: bool = False


def _normalize(heading: str) -> str:
    heading = re.sub(r"\[optional\]", "", heading, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", heading).strip().rstrip(":").lower()


def _clean(text: str) -> str:
    """A section's own text: without HTML comments and the template's placeholder."""
    text = _COMMENT.sub("", text).replace(PLACEHOLDER, "")
    text = _EMPTY_FACT.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def sections(markdown: str) -> tuple[str, list[Section]]:
    """The text before the first sub-heading (the summary under the title) and each
    section with its own text (up to the next heading of any level). Headings inside
    fenced code blocks are text."""
    summary: list[str] = []
    found: list[Section] = []
    current: list[str] = summary
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match is None:
            current.append(line)
            continue
        level, heading = len(match.group(1)), match.group(2)
        if level == 1 and not found:
            summary.clear()  # the title; the summary follows it
            continue
        found.append(Section(level, heading, ""))
        current = []
        found[-1].text = current  # type: ignore[assignment]
    for section in found:
        section.text = _clean("\n".join(section.text))  # type: ignore[arg-type]
    return _clean("\n".join(summary)), found


def parse(text: str) -> CardImport:
    """Read a card: its YAML header with ``ModelCardData`` and its sections."""
    if len(text.encode()) > MAX_CARD_BYTES:
        raise BadParameter(f"The card is larger than {MAX_CARD_BYTES} bytes.", field="card")
    if not text.strip():
        raise BadParameter("The card is empty: send the README.md text.", field="card")
    try:
        card = ModelCard(text, ignore_metadata_errors=True)
    except (ValueError, yaml.YAMLError) as exc:
        raise BadParameter(f"The card's YAML header cannot be read: {exc}", field="card")
    result = CardImport()
    metadata = card.data.to_dict()
    for key, value in metadata.items():
        if value in (None, "", [], {}):
            continue
        if key in KEPT_METADATA:
            result.metadata[key] = value
            result.mapped.append({"source": f"metadata {key}", "field": "card_metadata"})
        elif key == "model_name":
            continue  # the model is named by the URL
        else:
            result.unmapped.append(
                {"source": f"metadata {key}", "reason": "govreg keeps no such metadata"}
            )
    summary, found = sections(card.text)
    texts: dict[str, list[str]] = {}
    if summary:
        texts.setdefault("description", []).append(summary)
        result.mapped.append({"source": "summary under the title", "field": "description"})
    for section in found:
        name = SECTION_FIELDS.get(_normalize(section.heading))
        if not section.text:
            continue
        if name is None:
            result.unmapped.append(
                {
                    "source": f"section {section.heading!r}",
                    "reason": SECTION_REASONS.get(
                        _normalize(section.heading), "no govreg card field takes this section"
                    ),
                }
            )
            continue
        texts.setdefault(name, []).append(section.text)
        result.mapped.append({"source": f"section {section.heading!r}", "field": name})
    for name, parts in texts.items():
        result.values[name] = "\n\n".join(dict.fromkeys(parts))
    contact = result.values.get("contact")
    limit = MLModel._meta.get_field("contact").max_length
    if contact and len(contact) > limit:
        result.values.pop("contact")
        result.unmapped.append(
            {
                "source": "section contact",
                "reason": f"longer than the contact field's {limit} characters",
            }
        )
    return result


def import_card(model: MLModel, text: str, *, dry_run: bool = False) -> CardImport:
    """Apply a Hugging Face card to ``model``'s card fields (one audited update, with
    the import's report as a ``model.card_imported`` event). ``dry_run`` reports what
    would change and writes nothing. The card is checked as a whole: a value a field
    refuses is a 400 naming the field and nothing is saved."""
    result = parse(text)
    result.dry_run = dry_run
    with transaction.atomic():
        locked = MLModel.objects.select_for_update().get(pk=model.pk)
        for name, value in result.values.items():
            if getattr(locked, name) != value:
                setattr(locked, name, value)
                result.changed.append(name)
        if result.metadata != locked.card_metadata:
            locked.card_metadata = result.metadata
            result.changed.append("card_metadata")
        try:
            locked.full_clean()
        except ValidationError as exc:
            raise BadParameter(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()),
                field=next(iter(exc.message_dict), "card"),
            )
        if dry_run:
            return result
        if result.changed:
            locked.save(update_fields=[*result.changed, "updated_at"])
        record_decision(
            "model.card_imported",
            locked,
            format="huggingface",
            changed=result.changed,
            mapped=result.mapped,
            unmapped=result.unmapped,
        )
    for name in result.changed:
        setattr(model, name, getattr(locked, name))
    return result


def export_card(model: MLModel) -> str:
    """``model``'s card as a Hugging Face README.md (YAML header and sections)."""
    metadata = {k: v for k, v in model.card_metadata.items() if k in KEPT_METADATA}
    data = ModelCardData(
        model_name=model.name, ignore_metadata_errors=True, **_card_data_arguments(metadata)
    )
    lines = [f"# Model Card for {model.name}", ""]
    if model.description.strip():
        lines += [model.description.strip(), ""]
    for name, heading in EXPORT_HEADINGS:
        value = str(getattr(model, name)).strip()
        if value:
            lines += [heading, "", value, ""]
    content = f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines)
    return str(ModelCard(content, ignore_metadata_errors=True))


def _card_data_arguments(metadata: dict) -> dict:
    """``ModelCardData``'s keyword arguments: its model-index is read back into
    evaluation results by the library itself, so pass it under its YAML name."""
    arguments = dict(metadata)
    arguments.pop("eval_results", None)
    return arguments


def record_export(model: MLModel) -> None:
    record_decision("model.card_exported", model, format="huggingface")
