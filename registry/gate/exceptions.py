"""The gate's domain exceptions, in a module of their own so the catalog's
``registry.services.deploy`` raises the same refusal the gate does without
importing the gate's services. The gate's API views answer them as 409 / 403."""


class GateConflict(Exception):
    """The request is in a state where this act makes no sense (HTTP 409)."""


class GateRefused(Exception):
    """The user may not do this, or not on this path (HTTP 403)."""


class ProtectedEnvironment(GateRefused):
    """A protected environment takes a version only through an approved deployment
    request for exactly that version and environment."""
