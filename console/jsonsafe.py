"""JSON from strangers, with a bound on nesting depth.

The standard parser recurses once per level: ``[`` × 100,000 raises ``RecursionError`` (a 500 with a long
traceback) instead of a parse error. A linear scan of the brackets outside strings refuses such a document
before it is parsed. Plain Python, so the API's parser and the webhook service share it.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # forge webhook payloads nest a handful of levels; nothing the console accepts needs more

# A JSON string (escapes included) or a bracket; strings are matched whole so their brackets do not count.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class JSONTooDeep(ValueError):
    """Raised (a ValueError, like every other JSON error) for a document nested deeper than allowed."""


def check_depth(text: str, max_depth: int = MAX_DEPTH) -> None:
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels")
        elif token in "]}":
            depth -= 1


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH, **options) -> Any:
    """``json.loads`` that raises ValueError, never RecursionError, however deep the input."""
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    check_depth(text, max_depth)
    return json.loads(text, **options)
