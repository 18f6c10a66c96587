"""The OpenAPI document's error answers: every operation declares the JSON error body
of ``config.api`` (the ``Error`` component) for the statuses it may answer with.

A drf-spectacular post-processing hook (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``):
an answer an operation already documents is kept as it is.
"""

ERROR_COMPONENT = "Error"
# for a view that declares an error answer of its own (one the hook below does not add)
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error answer of the API (config/api.py).",
    "properties": {
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "error": {
            "type": "string",
            "description": "A code: invalid, not_found, conflict, permission_denied, "
            "not_authenticated, throttled, ...",
        },
        "message": {"type": "string", "description": "What went wrong, for a person."},
        "fields": {
            "type": "object",
            "description": "For invalid input: each field (or parameter) named, with its messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["status", "error", "message"],
}

# status -> (description, which operations may answer it)
_ANSWERS = {
    "400": ("Invalid input: a body, field or query parameter that cannot be read.", "all"),
    "401": ("No valid credentials.", "authenticated"),
    "403": ("The caller may see this but may not do it.", "all"),
    # a path's record, or a record a query parameter names (a lineage node, a run)
    "404": ("No such record, or not the caller's to see.", "all"),
    "409": ("The record's state does not allow this (decided, closed, in use).", "write"),
    "415": ("A body in a media type the operation does not read (send JSON).", "body"),
    "429": ("Too many requests; retry after the Retry-After header's seconds.", "all"),
}
_WRITES = {"post", "put", "patch", "delete"}
_METHODS = _WRITES | {"get"}


def _applies(kind: str, path: str, method: str, operation: dict) -> bool:
    if kind == "authenticated":
        return operation.get("security") != [{}] and {} not in operation.get("security", [])
    if kind == "detail":
        return "{" in path or method in _WRITES
    if kind == "write":
        return method in _WRITES
    if kind == "body":
        return "requestBody" in operation
    return True


def declare_errors(result, generator, request, public):
    """Add the ``Error`` component and each operation's error answers."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    body = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, (description, kind) in _ANSWERS.items():
                if status not in responses and _applies(kind, path, method, operation):
                    responses[status] = {"description": description, "content": body}
    return result


__all__ = ["ERROR_COMPONENT", "ERROR_REF", "ERROR_SCHEMA", "declare_errors"]
