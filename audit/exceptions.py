"""What the audit app raises when its own records no longer add up."""


class TrailTampered(Exception):
    """The audit trail does not verify, so nothing may be signed over it."""
