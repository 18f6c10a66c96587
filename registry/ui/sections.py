"""Sections other apps add to a model's page (``/models/<name>/``).

The registry knows the card, the versions and the deployments; risks, thresholds,
evaluations and incidents belong to the apps above it, which register a section
from their ``ui/console.py`` the way they add sections to the decision page
(``registry.gate.ui.board_section``), with the same ``Section`` type::

    from registry.gate.ui import Section
    from registry.ui.sections import model_section

    @model_section("risks", order=20)
    def risks(model, user) -> Section | None:
        rows = [...]  # scoped to ``user`` through accounts.permissions; bounded queries
        return Section("Risks", columns=["risk", "level"], rows=rows, empty="No risk.")

A section function gets the ``MLModel`` (which ``user`` may view) and the user and
returns a ``Section`` or ``None``. Values are rendered as text; ``ROW_LINK`` and
``ROW_TONE`` (from ``registry.gate.ui``) mark a row's link and tone.
"""

from collections.abc import Callable

_sections: dict[str, tuple[int, Callable]] = {}


def model_section(name: str, *, order: int = 100):
    """Register ``func(model, user) -> Section | None`` as the model page's section ``name``."""

    def decorator(func):
        _sections[name] = (order, func)
        return func

    return decorator


def model_sections_for(model, user) -> list:
    sections = []
    for name, (_, func) in sorted(_sections.items(), key=lambda item: item[1][0]):
        section = func(model, user)
        if section is not None:
            section.anchor = section.anchor or f"section-{name}"
            sections.append(section)
    return sections
