"""The one JSON body parser of the API: the lineage intake's strict reading
(``lineage.api.body.parse_json``) for every DRF endpoint.

Strict UTF-8, no ``NaN``/``Infinity``, and a document nested too deeply (which would
exhaust Python's recursion while decoding) is a 400 naming the problem, not a 500.
"""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from lineage.api.body import BodyError, parse_json


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise ParseError(f"The body is larger than {limit} bytes.")
        try:
            return parse_json(raw)
        except BodyError as exc:
            raise ParseError(exc.message)


__all__ = ["StrictJSONParser"]
