"""Checking an OpenLineage event against govreg's own JSON Schema (Draft 2020-12).

``schema/openlineage_event.json`` is written for this project: the event
shapes of the OpenLineage 2-0-x specification and the standard facets we read.
The tests check it against the official schemas. Errors name the JSON path of
the violation (``$.run.runId``) and why, so an emitter's author can fix it.

Events are checked by a compiled validator (jsonschema-rs): a valid event costs
tens of microseconds. Only an event it refuses is checked again by the
``jsonschema`` validator, whose error (path and message) is the one we answer,
so the messages do not depend on the fast validator's wording.

Values JSON allows but the database does not hold are refused before the
schema: a lone surrogate (``"\\ud800"``) and a number too large for a double
(``1e999`` parses as infinity) with 400, a NUL character with 422.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

from lineage.choices import EventKind

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "openlineage_event.json"
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_MAX_MESSAGE = 300

format_checker = FormatChecker(formats=())


@format_checker.checks("date-time", raises=ValueError)
def _is_date_time(value) -> bool:
    """RFC 3339: a date, a time and an offset (Z or +hh:mm): an event time is never local."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T")).astimezone(UTC)
    except OverflowError:
        return False
    return True


def _is_date_time_or_false(value) -> bool:
    """``_is_date_time`` for the compiled validator, which takes an exception for a crash:
    an impossible date (2026-02-30) is simply not a date-time."""
    try:
        return _is_date_time(value)
    except ValueError:
        return False


@format_checker.checks("uuid", raises=ValueError)
def _is_uuid(value) -> bool:
    if not isinstance(value, str):
        return True
    uuid.UUID(value)
    return all(value[i] == "-" for i in (8, 13, 18, 23)) and len(value) == 36


class InvalidEvent(Exception):
    """An event that breaks the specification: ``path`` ($-rooted JSON path) and ``reason``."""

    status = 422
    code = "invalid_event"

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    @property
    def field(self) -> str:
        return self.path[2:] if self.path.startswith("$.") else self.path.lstrip("$") or "$"


class UnstorableValue(InvalidEvent):
    """A value JSON allows but no JSON column holds (NUL, lone surrogate, infinity): 400."""

    status = 400
    code = "invalid_json"


@cache
def _schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _inline(node, defs: dict, stack: tuple = ()):
    """Replace local ``$ref``s by the definitions they name (recursive ones stay refs).

    Same meaning, but the validator no longer resolves references on every
    instance: validation takes about half the time.
    """
    if isinstance(node, list):
        return [_inline(item, defs, stack) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _inline(value, defs, stack) for key, value in node.items() if key != "$ref"}
    ref = node.get("$ref")
    if not ref:
        return out
    name = ref.removeprefix("#/$defs/")
    if name == ref or name in stack:
        out["$ref"] = ref
        return out
    target = _inline(defs[name], defs, (*stack, name))
    return {"allOf": [target], **out} if out else target


@cache
def _kind_schema(kind: str) -> dict:
    source = _schema()
    return {
        "$schema": source["$schema"],
        "$defs": source["$defs"],
        **_inline({"$ref": f"#/$defs/{kind}"}, source["$defs"]),
    }


@cache
def validator_for(kind: str) -> Draft202012Validator:
    """The reference validator: slow, but its errors are the messages we answer."""
    schema = _kind_schema(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=format_checker)


@cache
def compiled_validator_for(kind: str):
    """The same schema compiled by jsonschema-rs, with the same format rules (only
    ``date-time`` is checked, by the same function)."""
    return jsonschema_rs.Draft202012Validator(
        _kind_schema(kind),
        formats={"date-time": _is_date_time_or_false},
        validate_formats=True,
        ignore_unknown_formats=True,
    )


def event_kind(event: dict) -> str:
    """RunEvent, DatasetEvent or JobEvent from the last segment of ``schemaURL``.

    Like Marquez, an absent or unknown schema URL means a run event.
    """
    url = event.get("schemaURL") if isinstance(event, dict) else None
    fragment = str(url or "").rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    if fragment in (EventKind.DATASET, EventKind.JOB):
        return fragment
    return EventKind.RUN.value


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _nul(text: str) -> bool:
    return "\x00" in text


def _surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _bad_path(value, bad_text, path: str = "$", bad_number=None) -> str | None:
    """The path of the first string (or key) for which ``bad_text`` holds, or of the first
    number for which ``bad_number`` holds."""
    if isinstance(value, str):
        return path if bad_text(value) else None
    if isinstance(value, float):
        return path if bad_number is not None and bad_number(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if bad_text(str(key)):
                return path
            found = _bad_path(item, bad_text, f"{path}.{key}", bad_number)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _bad_path(item, bad_text, f"{path}[{index}]", bad_number)
            if found:
                return found
    return None


def _nul_path(value, path: str = "$") -> str | None:
    """Where a NUL character hides (PostgreSQL's jsonb cannot hold one)."""
    return _bad_path(value, _nul, path)


_PLAIN = frozenset({str, int, bool, type(None)})


def has_float(value) -> bool:
    """True when ``value`` holds a float, or anything but dicts, lists, strings,
    integers, booleans and None (exact types), or a key that is not a string."""
    kind = type(value)
    if kind in _PLAIN:
        return False
    if kind is not dict and kind is not list:
        return True
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        if type(item) is dict:
            for key in item:
                if type(key) is not str:
                    return True
            item = item.values()
        for child in item:
            kind = type(child)
            if kind is str or kind is dict or kind is list:
                if kind is not str:
                    push(child)
            elif kind not in _PLAIN:
                return True
    return False


def check_storable(event) -> None:
    """Refuse what JSON parses but no JSON column holds, naming the field.

    One serialisation of the whole event decides in the common case; the tree is
    walked only to name the field of a value that failed.
    """
    try:
        # orjson refuses a lone surrogate and anything but plain JSON values; without a
        # float (which orjson would write as null were it not finite) its text decides
        fast = orjson.dumps(event, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        fast = None
    # a float that is not finite is the one thing orjson writes unfaithfully, as null:
    # without a null in the text there is none to look for
    if fast is not None and (b"null" not in fast or not has_float(event)):
        if b"\\u0000" in fast:  # orjson escapes NUL as \u0000
            nul = _nul_path(event)
            if nul:
                raise InvalidEvent(nul, "text must not contain NUL characters")
        return
    try:
        text = json.dumps(event, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except ValueError:  # inf, -inf or NaN (1e999 parses as infinity); UnicodeEncodeError too
        path = _bad_path(event, _surrogate, bad_number=lambda n: n != n or n in (_INF, -_INF))
        if path is None:
            raise UnstorableValue("$", "the event cannot be stored as JSON")
        found = _walk_value(event, path)
        if isinstance(found, float):
            raise UnstorableValue(path, "a number must be finite (this one overflows a double)")
        raise UnstorableValue(
            path, "text must be valid Unicode (a lone surrogate such as \\ud800 is not)"
        )
    if "\\u0000" in text or "\x00" in text:  # json.dumps escapes NUL as \u0000
        nul = _nul_path(event)
        if nul:  # 422, as before: the schema's rule, not a parse problem
            raise InvalidEvent(nul, "text must not contain NUL characters")


_INF = float("inf")


def _walk_value(value, path: str):
    """The value at a path ``_bad_path`` answered (its keys never contain dots here:
    a bad key is reported at its object's path)."""
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path[1:]):
        key, index = part
        try:
            value = value[int(index)] if index else value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def validate_event(event) -> str:
    """Return the event's kind, or raise ``InvalidEvent`` naming the first violation."""
    if not isinstance(event, dict):
        raise InvalidEvent("$", "an event must be a JSON object")
    kind = event_kind(event)
    check_storable(event)
    if compiled_validator_for(kind).is_valid(event):
        return kind
    error = best_match(validator_for(kind).iter_errors(event))
    if error is None:
        return kind
    path = error.json_path
    reason = error.message
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            path = f"{path}.{missing[0]}" if re.match(r"^\w+$", missing[0]) else path
            reason = f"'{missing[0]}' is a required property"
    elif error.validator == "not":
        reason = f"a {kind} must not carry " + (
            "a job and a run" if kind == EventKind.DATASET else "a run"
        )
    raise InvalidEvent(path, _shorten(reason))
