"""Health marks on the home page's "live now" matrix, registered by the apps that know.

The registry shows which version of each model is live in each environment; whether
that deployment is healthy is known by the apps above it (an open incident, an expired
risk acceptance) or by registry code that reads lineage (revoked training data). Each
registers a mark function from its ``ui/console.py``::

    from registry.ui.health import Mark, health_mark

    @health_mark("open-incident", order=10)
    def open_incidents(deployments) -> dict[int, list[Mark]]:
        ...  # a bounded number of queries for the whole list, never one per deployment
        return {deployment.pk: [Mark("incident", "bad", "2 open incidents", url)]}

A mark function gets the list of live ``Deployment`` rows shown (with their model and
version loaded) and returns marks keyed by deployment id; a deployment with no mark
is healthy. Labels and titles are rendered as text, links are built with ``reverse``.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Mark:
    label: str  # a word or two shown in the cell: "incident", "revoked data"
    tone: str = "bad"  # "bad" or "warn"
    title: str = ""  # the longer explanation (the cell's tooltip and screen-reader text)
    link: str = ""


_marks: dict[str, tuple[int, Callable]] = {}


def health_mark(name: str, *, order: int = 100):
    """Register ``func(deployments) -> {deployment_id: [Mark, ...]}`` under ``name``."""

    def decorator(func):
        _marks[name] = (order, func)
        return func

    return decorator


def marks_for(deployments) -> dict[int, list[Mark]]:
    """Every registered function's marks for these deployments, merged, in order."""
    deployments = list(deployments)
    merged: dict[int, list[Mark]] = {}
    if not deployments:
        return merged
    for _, func in sorted(_marks.values(), key=lambda item: item[0]):
        for deployment_id, marks in (func(deployments) or {}).items():
            merged.setdefault(deployment_id, []).extend(marks)
    return merged
