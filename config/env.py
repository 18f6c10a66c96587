"""Strict, typed readers for settings that come from the environment.

A value that cannot be parsed stops start-up with a message naming the
variable, so a typo in a deployment never turns into a silently wrong default.
"""

import os
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_required(name: str, why: str) -> str:
    """A value start-up cannot do without: unset or empty stops start-up, naming it."""
    value = env_str(name)
    if value is None:
        raise ImproperlyConfigured(f"{name} must be set: {why}")
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0), got {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int_map(name: str, default: dict[str, int], keys) -> dict[str, int]:
    """``key=number,key=number`` (each key one of ``keys``, each number at least 0);
    a key left out keeps its default."""
    value = _raw(name)
    result = dict(default)
    if value is None or not value.strip():
        return result
    for item in value.split(","):
        key, sep, number = (part.strip() for part in item.partition("="))
        if not sep or key not in keys:
            raise ImproperlyConfigured(
                f"{name} must be key=days pairs with keys among {', '.join(sorted(keys))}, "
                f"got {item.strip()!r}"
            )
        try:
            result[key] = int(number)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {key} must be an integer, got {number!r}"
            ) from None
        if result[key] < 0:
            raise ImproperlyConfigured(f"{name}: {key} must be at least 0, got {result[key]}")
    return result


def env_database(name: str, default: str) -> dict:
    value = env_str(name, default)
    scheme = urlparse(value).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"{name} must be a sqlite:// or postgres:// URL, got scheme {scheme!r}"
        )
    try:
        return dj_database_url.parse(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None


def env_url(name: str, default: str | None, schemes: set[str]) -> str | None:
    value = env_str(name, default)
    if value is None:
        return None
    scheme = urlparse(value).scheme
    if scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise ImproperlyConfigured(f"{name} must use one of {allowed}, got {value!r}")
    return value


def env_str_mapping(name: str) -> dict[str, str]:
    """A JSON object of strings to strings (``'{"production": "production"}'``); unset
    or empty is ``{}``."""
    import json

    value = env_str(name)
    if value is None:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a JSON object, got {value!r}: {exc}") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in parsed.items()
    ):
        raise ImproperlyConfigured(
            f"{name} must be a JSON object of non-empty strings to strings, got {value!r}"
        )
    return parsed
