"""Reading an intake body safely: size limits before and after gzip, strict UTF-8 and JSON.

The body is read and inflated in bounded chunks, so neither a huge upload nor
a small gzip bomb can make the process hold more than the configured limit
(``GOVREG_LINEAGE_MAX_BODY_BYTES``) plus one chunk. A body sent in chunked
transfer encoding without Content-Length is answered 411 (WSGI gives the
application Content-Length bytes, so it would read as empty).
"""

from __future__ import annotations

import json
import zlib

CHUNK = 64 * 1024
_GZIP = {"gzip", "x-gzip"}
_IDENTITY = {"", "identity"}


class BodyError(Exception):
    """A body we refuse, with the HTTP status and error code to answer."""

    def __init__(self, status: int, code: str, message: str):
        self.status = status
        self.code = code
        self.message = message
        super().__init__(message)


def _too_large(limit: int, inflated: bool = False) -> BodyError:
    what = "inflated body" if inflated else "body"
    return BodyError(413, "too_large", f"The {what} is larger than {limit} bytes.")


def read_body(http_request, limit: int) -> bytes:
    """The request body, inflated when ``Content-Encoding: gzip``, at most ``limit`` bytes."""
    encoding = http_request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in _GZIP | _IDENTITY:
        raise BodyError(
            415,
            "unsupported_encoding",
            f"Content-Encoding {encoding!r} is not supported; use gzip.",
        )
    try:
        declared = int(http_request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BodyError(400, "bad_request", "Content-Length is not a number.")
    if not declared and "chunked" in http_request.headers.get("Transfer-Encoding", "").lower():
        # WSGI hands the application Content-Length bytes: a chunked body would read as empty
        raise BodyError(
            411,
            "length_required",
            "Content-Length is required: send the body with a Content-Length header, "
            "not in chunked transfer encoding.",
        )
    if declared > limit:
        raise _too_large(limit)

    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS) if encoding in _GZIP else None
    out = bytearray()
    received = 0
    while True:
        chunk = http_request.read(CHUNK)
        if not chunk:
            break
        received += len(chunk)
        if received > limit:
            raise _too_large(limit)
        if inflater is None:
            out += chunk
            continue
        data = chunk
        while data:
            try:
                piece = inflater.decompress(data, limit + 1 - len(out))
            except zlib.error as exc:
                raise BodyError(400, "invalid_gzip", f"The body is not valid gzip: {exc}.")
            out += piece
            if len(out) > limit:
                raise _too_large(limit, inflated=True)
            data = inflater.unconsumed_tail
    if inflater is not None:
        if not inflater.eof:
            raise BodyError(400, "invalid_gzip", "The gzip stream is truncated.")
        try:
            out += inflater.flush()
        except zlib.error as exc:
            raise BodyError(400, "invalid_gzip", f"The body is not valid gzip: {exc}.")
        if len(out) > limit:
            raise _too_large(limit, inflated=True)
    return bytes(out)


def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes):
    """Strict JSON from UTF-8 bytes (no NaN/Infinity, no invalid UTF-8)."""
    if not body.strip():
        raise BodyError(400, "invalid_json", "The body is empty; send a JSON document.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(
            400, "invalid_json", f"The body is not valid UTF-8 (byte {exc.start}: {exc.reason})."
        )
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise BodyError(400, "invalid_json", "The JSON document is nested too deeply.")
    except ValueError as exc:
        raise BodyError(400, "invalid_json", f"The body is not valid JSON: {exc}.")
