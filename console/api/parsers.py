"""Request parsers for the API: DRF's JSON parser with the nesting bound of ``console.jsonsafe``."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json as drf_json

from console import jsonsafe


class BoundedJSONParser(JSONParser):
    """Parses JSON bodies; a document nested too deep is a parse error (400), not a RecursionError (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
            return jsonsafe.loads(text, parse_constant=drf_json.strict_constant if self.strict else None)
        except ValueError as exc:  # UnicodeDecodeError and JSONTooDeep are ValueErrors too
            raise ParseError(f"JSON parse error - {exc}") from None
