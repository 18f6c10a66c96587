"""Sections other apps add to the board's deployment-request page.

The gate never imports the apps that know about risks, evaluations or
incidents; they register a section here (from their ``AppConfig.ready``), the
way they register gate checks:

    from registry.gate.ui import Section, board_section

    @board_section("risks", order=100)
    def risks(deployment_request, user) -> Section | None:
        rows = [{"risk": r.title, "score": r.score, "status": r.status} for r in ...]
        return Section("Risks", columns=["risk", "score", "status"], rows=rows,
                       empty="No risk is linked to this model.")

A section function gets the ``DeploymentRequest`` and the viewing user and
returns a ``Section`` (a title, column names, rows as dicts, an optional note
and a text for no rows) or ``None`` to show nothing. Values are rendered as
text (escaped); nothing a section returns is trusted as HTML. A row may carry
``ROW_TONE`` (``"bad"``, ``"warn"``, ``"ok"``: how the row is marked) and
``ROW_LINK`` (a URL the first cell links to, built with ``reverse``).

``summary`` is one short line for the page's summary at the top (e.g. "1 risk
above appetite"), ``tone`` marks the section as needing attention (``"alert"``),
and ``group`` places it: ``"details"`` (the default) or ``"changes"``, the
comparison with the version live now in the request's environment
(``live_deployment``).

Sections run inside one ``registry.gate.checks.evaluation()`` span, so two
sections (and the page) reading the same thing through ``memoize`` read it once.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from registry.choices import DeploymentState
from registry.gate.checks import evaluation, memoize
from registry.models import Deployment

ROW_TONE = "_tone"
ROW_LINK = "_link"


@dataclass
class Section:
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    note: str = ""
    empty: str = "Nothing to show."
    summary: str = ""
    tone: str = ""
    group: str = "details"
    anchor: str = ""

    def table(self) -> list[list]:
        return [[row.get(column, "") for column in self.columns] for row in self.rows]

    def marked_rows(self) -> list[dict]:
        """Rows for the template: their cells in column order, tone and link."""
        return [
            {
                "cells": [row.get(column, "") for column in self.columns],
                "tone": row.get(ROW_TONE, ""),
                "link": row.get(ROW_LINK, ""),
            }
            for row in self.rows
        ]


_sections: dict[str, tuple[int, Callable]] = {}


def board_section(name: str, order: int = 100):
    """Register ``func(deployment_request, user) -> Section | None`` under ``name``."""

    def decorator(func):
        _sections[name] = (order, func)
        return func

    return decorator


def registered_sections() -> list[tuple[str, Callable]]:
    return [(name, func) for name, (_, func) in sorted(_sections.items(), key=lambda i: i[1][0])]


def sections_for(deployment_request, user) -> list[Section]:
    """Every registered section's answer for this request, in order, ``None``s left out.

    Call it inside an ``evaluation()`` of your own to share what the page read too;
    otherwise it opens one."""
    with evaluation():
        sections = []
        for name, func in registered_sections():
            section = func(deployment_request, user)
            if section is not None:
                section.anchor = section.anchor or f"section-{name}"
                sections.append(section)
        return sections


def live_deployment(deployment_request):
    """The deployment of the request's model live now in the request's environment
    (with its version), or ``None``: what approving this request would replace. One
    query per ``evaluation()`` span, however many sections ask."""
    version = deployment_request.model_version

    def read():
        return (
            Deployment.objects.filter(
                model_id=version.model_id,
                environment_id=deployment_request.environment_id,
                state=DeploymentState.LIVE,
            )
            .select_related("model_version__training_run", "deployed_by", "deployment_request")
            .first()
        )

    return memoize(("gate.ui.live_deployment", deployment_request.pk), read)
