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
text (escaped); nothing a section returns is trusted as HTML.
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Section:
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    note: str = ""
    empty: str = "Nothing to show."

    def table(self) -> list[list]:
        return [[row.get(column, "") for column in self.columns] for row in self.rows]


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
    """Every registered section's answer for this request, in order, ``None``s left out."""
    sections = []
    for _, func in registered_sections():
        section = func(deployment_request, user)
        if section is not None:
            sections.append(section)
    return sections
