"""What the domain apps add to the console: navigation entries and home panels.

An app registers from its ``AppConfig.ready``; the console never imports it::

    from console.registry import Panel, home_panel, nav_entry

    nav_entry("Risks", "risk-register", order=30, visible=lambda user: may_any(user, "view", Risk))

    @home_panel("acceptances", order=20)
    def acceptances(request) -> Panel | None:
        rows = ...  # scoped to request.user through accounts.permissions
        return Panel("Acceptances awaiting my decision", "risk/console/_acceptances.html",
                     {"rows": rows}, count=len(rows))

A panel function gets the request and returns a ``Panel`` (a title, the template
that renders its body, that template's context, an optional count shown beside
the title, and a tone: ``"alert"`` marks a panel that needs attention) or ``None``
to show nothing to this user. Panels are rendered in order.
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    order: int
    visible: Callable
    section: str  # URL prefix that marks the entry as the current one


@dataclass
class Panel:
    title: str
    template: str
    context: dict = field(default_factory=dict)
    count: int | None = None
    tone: str = ""  # "alert" when something in it is overdue or failing
    wide: bool = False  # spans the whole row of the home page


_nav: dict[str, NavEntry] = {}
_panels: dict[str, tuple[int, Callable]] = {}


def _everyone(user) -> bool:
    return True


def nav_entry(label: str, url_name: str, *, order: int = 100, visible=_everyone, section=""):
    """Add ``label`` (a link to ``url_name``) to the navigation of users ``visible`` admits."""
    _nav[url_name] = NavEntry(label, url_name, order, visible, section)


def nav_entries() -> list[NavEntry]:
    return sorted(_nav.values(), key=lambda entry: (entry.order, entry.label))


def home_panel(name: str, *, order: int = 100):
    """Register ``func(request) -> Panel | None`` as the home page's panel ``name``."""

    def decorator(func):
        _panels[name] = (order, func)
        return func

    return decorator


def panels_for(request) -> list[Panel]:
    """Every registered panel's answer for this request, in order, ``None``s left out."""
    panels = []
    for _, func in sorted(_panels.values(), key=lambda item: item[0]):
        panel = func(request)
        if panel is not None:
            panels.append(panel)
    return panels
