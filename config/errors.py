"""The domain's refusals, raised by services and answered once by ``config.api``.

Services know nothing of HTTP: they raise one of these, and the API's exception
handler turns ``Conflict`` into 409, ``Refused`` into 403, ``BadParameter`` into
400 and ``Missing`` into 404, naming the field when the service said which one.
Every app's own exceptions (the gate's, the incidents', lineage's) subclass these.
"""


class DomainError(Exception):
    """A refusal a person can act on: ``message`` says why, ``field`` (optional) names
    the input it concerns."""

    def __init__(self, message: str = "", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Conflict(DomainError):
    """The record's current state does not allow this act (someone else moved first,
    it is already closed, others still point at it)."""


class Refused(DomainError):
    """The user may see the record but may not do this, or not on this path."""


class BadParameter(DomainError):
    """A query parameter or argument the service cannot read."""


class Missing(DomainError):
    """What the caller named does not exist (or is not theirs to see)."""


__all__ = ["BadParameter", "Conflict", "DomainError", "Missing", "Refused"]
