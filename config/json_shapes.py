"""JSON Schema checks for the JSON-shaped fields a model's ``clean()`` validates
(decision rights' required approvals, a risk matrix's labels and levels).

Integers are strict, as Python's ``int`` is: ``true`` and ``2.0`` are not counts.
"""

from jsonschema import Draft202012Validator, validators

_STRICT_TYPES = Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda checker, value: isinstance(value, int) and not isinstance(value, bool)
)
StrictValidator = validators.extend(Draft202012Validator, type_checker=_STRICT_TYPES)


def first_violation(schema: dict, value, *, key_order: tuple[str, ...] = ()):
    """The first violation of ``schema`` in ``value``, or ``None`` when it fits: the
    outer one before the ones inside it, list items in order, and an object's keys in
    ``key_order`` (then by name), so the message is the one a reader checking the
    value from the top would give."""

    def rank(error):
        out = []
        for part in error.absolute_path:
            if isinstance(part, int):
                out.append((0, part, ""))
            elif part in key_order:
                out.append((1, key_order.index(part), ""))
            else:
                out.append((2, 0, str(part)))
        return out

    errors = sorted(StrictValidator(schema).iter_errors(value), key=rank)
    return errors[0] if errors else None


__all__ = ["StrictValidator", "first_violation"]
