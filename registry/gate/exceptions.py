"""The gate's domain exceptions, in a module of their own so the catalog's
``registry.services.deploy`` raises the same refusal the gate does without
importing the gate's services. They subclass the shared ``config.errors`` refusals,
which ``config.api`` answers as 409 / 403."""

from config.errors import Conflict, Refused


class GateConflict(Conflict):
    """The request is in a state where this act makes no sense (HTTP 409)."""


class GateRefused(Refused):
    """The user may not do this, or not on this path (HTTP 403)."""


class ProtectedEnvironment(GateRefused):
    """A protected environment takes a version only through an approved deployment
    request for exactly that version and environment."""
