"""The serious-incident report of one incident (EU AI Act Art. 73), as JSON and PDF.

What the authority's form and practitioners' templates ask, read from the records:
the provider and its contact point (the model card's ``provider``, else the setting
``GOVREG_PROVIDER_NAME``; the setting ``GOVREG_PROVIDER_CONTACT``, else the card's
``contact``), the AI system with its EU database registration id, the model version
and deployment, the incident with when it happened (``occurred_at``; when that was
not recorded, when it was opened, and the report says so) and when the provider
became aware, the harm category (the incident's serious category), the Member States
and persons affected, the suspected causal link, the immediate actions, the root
cause and corrective actions (the post-incident review and its action items), and
other regimes notified.

A report is **initial** until the incident's post-incident review is completed, then
**complete** (Art. 73(5) lets a provider send an incomplete initial report followed
by a complete one). Values not recorded are ``null`` in JSON and "not recorded" in
the PDF. The JSON follows ``playbooks/schema/serious_report.schema.json`` (served at
``/api/schemas/serious-incident-report.json``); the PDF is drawn from the same dict
with the dossier's page helpers (``registry.pdf``).
"""

from __future__ import annotations

import json
from datetime import UTC, date
from functools import lru_cache
from pathlib import Path

import jsonschema
from django.conf import settings
from django.utils import timezone

from audit.services import record_decision
from playbooks.choices import REPORTING_DAYS, ReviewStatus, SeriousCategory
from playbooks.models import Incident
from playbooks.services.common import IncidentConflict
from registry.pdf import NOT_RECORDED, Document, text_of

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "serious_report.schema.json"
SCHEMA_URL_NAME = "serious-report-schema"
FORMAT = "govreg-serious-incident-report"
FORMAT_VERSION = 1
FORMATS = ("json", "pdf")
INITIAL, COMPLETE = "initial", "complete"

# The category's name without the reporting period its choice label carries.
HARM_LABELS = {
    SeriousCategory.SERIOUS: "Serious incident (Art. 3(49))",
    SeriousCategory.DEATH: "Death of a person",
    SeriousCategory.WIDESPREAD: "Widespread infringement",
    SeriousCategory.CRITICAL_INFRASTRUCTURE: "Serious disruption of critical infrastructure",
}


def _time(value):
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value) -> str | None:
    value = (value or "").strip()
    return value or None


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def report_type(incident: Incident) -> tuple[str, str]:
    """``(initial|complete, why)``: complete once the post-incident review is completed."""
    review = getattr(incident, "review", None)
    if review is not None and review.status == ReviewStatus.COMPLETED:
        return COMPLETE, (
            f"Complete report: the post-incident review was completed on "
            f"{text_of(review.completed_at)}."
        )
    if review is None:
        return INITIAL, "Initial report: no post-incident review has been started yet."
    return INITIAL, "Initial report: the post-incident review is still a draft."


def build_report(incident: Incident, *, now=None) -> dict:
    """The report of a serious ``incident`` as a JSON-ready dict (see the module)."""
    if not incident.serious_category:
        raise IncidentConflict(
            "Only a serious incident has an Art. 73 report: mark it serious first "
            "(POST .../serious).",
            field="serious_category",
        )
    now = now or timezone.now()
    model = incident.model
    deployment = incident.deployment
    version = incident.model_version or (deployment.model_version if deployment else None)
    review = getattr(incident, "review", None)
    kind, basis = report_type(incident)
    items = (
        list(review.action_items.select_related("owner").order_by("due_date", "pk"))
        if review is not None
        else []
    )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "legal_basis": "EU AI Act Art. 73",
        "report_type": kind,
        "report_type_basis": basis,
        "generated_at": _time(now),
        "provider": {
            "name": _text(model.provider) or _text(settings.GOVREG_PROVIDER_NAME),
            "contact_point": _text(settings.GOVREG_PROVIDER_CONTACT) or _text(model.contact),
        },
        "ai_system": {
            "name": model.name,
            "team": model.team.name,
            "risk_tier": model.risk_tier,
            "description": _text(model.description),
            "intended_use": _text(model.intended_use),
            "eu_database_id": _text(model.eu_database_id),
        },
        "model_version": None
        if version is None
        else {
            "version": version.version,
            "status": version.status,
            "artifact_uri": version.artifact_uri,
            "artifact_digest": version.artifact_digest,
            "registered_at": _time(version.created_at),
        },
        "deployment": _deployment(incident),
        "incident": {
            "id": incident.pk,
            "title": incident.title,
            "description": _text(incident.description),
            "severity": incident.severity,
            "status": incident.status,
            "occurred_at": _time(incident.occurred_at or incident.opened_at),
            "occurred_at_source": "recorded" if incident.occurred_at else "opened",
            "aware_at": _time(incident.aware_at),
            "opened_at": _time(incident.opened_at),
            "contained_at": _time(incident.contained_at),
            "resolved_at": _time(incident.resolved_at),
        },
        "harm_category": {
            "code": incident.serious_category,
            "label": HARM_LABELS.get(
                incident.serious_category, incident.get_serious_category_display()
            ),
            "reporting_period_days": REPORTING_DAYS[incident.serious_category],
        },
        "affected": {
            "member_states": sorted(incident.affected_member_states or []),
            "persons": incident.persons_affected,
        },
        "causal_link": _text(incident.causal_link),
        "immediate_actions": _text(incident.immediate_actions),
        "root_cause": _text(review.root_cause) if review else None,
        "corrective_actions": [
            {
                "title": item.title,
                "description": _text(item.description),
                "owner": _username(item.owner),
                "due_date": item.due_date.isoformat(),
                "status": item.status,
                "done_at": _time(item.closed_at),
            }
            for item in items
        ],
        "review": None
        if review is None
        else {
            "status": review.status,
            "completed_at": _time(review.completed_at),
            "summary": _text(review.summary),
            "resolution": _text(review.resolution),
            "lessons": _text(review.lessons),
        },
        "other_regimes_notified": _text(incident.other_regimes_notified),
        "reporting": {
            "deadline": _time(incident.report_deadline),
            "reported_at": _time(incident.reported_at),
        },
    }


def _deployment(incident: Incident) -> dict | None:
    deployment = incident.deployment
    if deployment is not None:
        return {
            "id": deployment.pk,
            "environment": deployment.environment.name,
            "state": deployment.state,
            "deployed_at": _time(deployment.deployed_at),
            "ended_at": _time(deployment.ended_at),
        }
    if incident.environment_name:
        return {
            "id": None,
            "environment": incident.environment_name,
            "state": None,
            "deployed_at": None,
            "ended_at": None,
        }
    return None


def as_json_bytes(report: dict) -> bytes:
    return json.dumps(report, ensure_ascii=False, indent=2).encode()


# --- JSON Schema ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def report_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def validate_report(report: dict) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``report`` follows the schema."""
    jsonschema.validate(report, report_schema(), cls=jsonschema.Draft202012Validator)


# --- PDF ------------------------------------------------------------------------------


def _day(value: str | None) -> str | None:
    return date.fromisoformat(value).isoformat() if value else None


def render_pdf(report: dict) -> bytes:
    """The report as a PDF a person reads: the same fields, in the order of the
    authority's form, one heading per part."""
    incident, system = report["incident"], report["ai_system"]
    kind = "Complete report" if report["report_type"] == COMPLETE else "Initial report"
    title = f"Serious-incident report: incident #{incident['id']}"
    pdf = Document(
        title=title,
        running_title=f"{system['name']} - serious-incident report #{incident['id']} ({kind})",
    )
    pdf.title_block(
        title,
        [
            f"{report['legal_basis']}. {kind}.",
            report["report_type_basis"],
            f"Generated: {text_of(report['generated_at'])}",
        ],
    )

    pdf.heading("1. Provider and contact point")
    provider = report["provider"]
    pdf.facts([("Provider", provider["name"]), ("Contact point", provider["contact_point"])])

    pdf.heading("2. The AI system")
    version, deployment = report["model_version"], report["deployment"]
    pdf.facts(
        [
            ("AI system", system["name"]),
            ("EU database registration id", system["eu_database_id"]),
            ("Risk tier", system["risk_tier"]),
            ("Team", system["team"]),
            ("Intended purpose", system["intended_use"]),
            (
                "Model version",
                f"{version['version']} ({version['status']})" if version else None,
            ),
            (
                "Artifact",
                f"{version['artifact_uri']}\n{version['artifact_digest']}" if version else None,
            ),
            (
                "Deployment",
                (
                    f"{deployment['environment']}"
                    + (
                        f" (deployment {deployment['id']}, {deployment['state']})"
                        if deployment["id"]
                        else ""
                    )
                    + (
                        f", since {text_of(deployment['deployed_at'])}"
                        if deployment["deployed_at"]
                        else ""
                    )
                )
                if deployment
                else None,
            ),
        ]
    )

    pdf.heading("3. The incident")
    occurred = text_of(incident["occurred_at"])
    if incident["occurred_at_source"] == "opened":
        occurred += " (not recorded; when the incident was opened)"
    pdf.facts(
        [
            ("Title", incident["title"]),
            ("Description", incident["description"]),
            ("Date of the incident", occurred),
            ("Date of awareness", incident["aware_at"]),
            ("Severity", incident["severity"]),
            ("Status", incident["status"]),
            ("Contained", incident["contained_at"] or "not yet"),
            ("Resolved", incident["resolved_at"] or "not yet"),
        ]
    )

    pdf.heading("4. Harm and persons affected")
    harm, affected = report["harm_category"], report["affected"]
    pdf.facts(
        [
            ("Harm category", f"{harm['label']} ({harm['code']})"),
            ("Reporting period", f"{harm['reporting_period_days']} days from awareness"),
            ("Member States affected", ", ".join(affected["member_states"]) or None),
            ("Persons affected", affected["persons"]),
        ]
    )

    pdf.heading("5. Causal link and immediate actions")
    pdf.facts(
        [
            ("Suspected causal link", report["causal_link"]),
            ("Immediate actions", report["immediate_actions"]),
        ]
    )

    pdf.heading("6. Root cause and corrective actions")
    review = report["review"]
    pdf.facts(
        [
            ("Root cause", report["root_cause"]),
            ("Post-incident review", _review_line(review)),
            ("What happened", review["summary"] if review else None),
            ("Resolution", review["resolution"] if review else None),
            ("Lessons learned", review["lessons"] if review else None),
        ]
    )
    pdf.heading("Corrective actions", 2)
    if report["corrective_actions"]:
        pdf.rows(
            ["Action", "Owner", "Due", "Status", "Done"],
            [
                [
                    item["title"] + (f"\n{item['description']}" if item["description"] else ""),
                    item["owner"],
                    _day(item["due_date"]),
                    item["status"],
                    item["done_at"],
                ]
                for item in report["corrective_actions"]
            ],
            widths=(46, 14, 13, 11, 16),
        )
    else:
        pdf.not_recorded("Corrective actions")

    pdf.heading("7. Other regimes notified")
    pdf.facts([("Other authorities notified", report["other_regimes_notified"])])

    pdf.heading("8. Reporting")
    reporting = report["reporting"]
    pdf.facts(
        [
            ("Report type", kind),
            ("Report due", reporting["deadline"]),
            ("Report recorded as sent", reporting["reported_at"] or "not yet"),
        ]
    )
    return pdf.render()


def _review_line(review: dict | None) -> str:
    if review is None:
        return NOT_RECORDED
    if review["status"] == ReviewStatus.COMPLETED:
        return f"completed {text_of(review['completed_at'])}"
    return "draft (not completed)"


# --- the download (the one write) -------------------------------------------------------


def record_download(incident: Incident, *, fmt: str, report: dict):
    """Each report handed out is an audit event ``incident.report_exported`` on the
    incident: who (the event's actor), which format, initial or complete, and when it
    was generated."""
    return record_decision(
        "incident.report_exported",
        incident,
        format=fmt,
        report_type=report["report_type"],
        generated_at=report["generated_at"],
        harm_category=report["harm_category"]["code"],
    )


__all__ = [
    "COMPLETE",
    "FORMATS",
    "INITIAL",
    "build_report",
    "record_download",
    "render_pdf",
    "report_schema",
    "report_type",
    "validate_report",
]
