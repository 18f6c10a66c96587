"""The registry's entries in the console: navigation and home panels."""

from console.registry import Panel, home_panel, nav_entry
from registry.choices import RequestStatus
from registry.gate.api import visible_requests

nav_entry("Requests", "ui-request-list", order=20, section="/requests/")

PANEL_ROWS = 10


@home_panel("pending-requests", order=10)
def pending_requests(request):
    """Pending deployment requests the user may see, newest first."""
    pending = (
        visible_requests(request.user)
        .filter(status=RequestStatus.PENDING)
        .select_related("model_version__model", "environment")
        .order_by("-created_at", "-pk")
    )
    rows = list(pending[: PANEL_ROWS + 1])
    return Panel(
        "Deployment requests pending",
        "registry/ui/_pending_panel.html",
        {"rows": rows[:PANEL_ROWS], "more": len(rows) > PANEL_ROWS},
        count=len(rows) if len(rows) <= PANEL_ROWS else None,
    )
