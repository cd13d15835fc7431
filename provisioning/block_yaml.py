"""A fast writer of block-style YAML, byte for byte what a configured ruamel ``YAML`` writes, for the plain
data that manifests are: dicts with string keys, lists, strings, ints and bools.

ruamel's emitter is pure Python and walks every event, every scalar's characters and every indent through
several layers of objects (20 ms for one project's manifests). The layout of block YAML is simple; only
a scalar's style (plain, quoted, escaped) needs ruamel's judgement, so each distinct scalar is written once
by ruamel itself and remembered, and the common ones (identifiers, names, URLs) are recognized by a pattern
that a test checks against ruamel. A document holding anything else (None, floats, multi-line or very long
strings, lists of lists) returns None and the caller lets ruamel write all of it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from functools import lru_cache

# Certainly plain for ruamel in block context: starts with a letter, no indicator that needs quoting
# (": ", " #", a trailing ":" or space), only characters that never need escaping. After the first character
# "," "*" and "'" are indicators only in flow context (ruamel's analyze_scalar), which manifests never use:
# Argo CD's policy lines ("p, proj:…, applications, get, …/*, allow") and descriptions are plain. Checked
# against ruamel by tests/provisioning/test_block_yaml.py over generated strings.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./@=+*,'-]*(?:(?::(?! )|[ ]+(?!#))[A-Za-z0-9_./@=+*,'-]+)*\Z")
# Longer strings might meet the line width (4096); multi-line ones are indented by context.
_LONGEST = 1000


class _Unsupported(Exception):
    """The document holds something this writer leaves to ruamel."""


_LINE_BREAKS = re.compile("[\n\r\x85\u2028\u2029]")
_STR_TAG = "tag:yaml.org,2002:str"


class BlockWriter:
    """Writes documents as ruamel writes them with ``make_yaml()`` (whose representer single-quotes the
    strings ``force_quotes`` says so) and an explicit document start."""

    def __init__(self, make_yaml: Callable[[], object], force_quotes: Callable[[str], bool]):
        self._make_yaml = make_yaml
        self._force_quotes = force_quotes
        # ruamel's own analysis of a scalar (which styles it allows) and resolver (what a plain scalar would
        # read back as) decide each style exactly as its emitter does.
        probe = make_yaml()
        probe.dump({"k": "v"}, io.StringIO())
        self._emitter = probe.emitter
        self._resolver = probe.resolver
        self.scalar = lru_cache(maxsize=65536)(self._scalar)
        self._keys: dict[str, str] = {}

    def _ruamel_scalar(self, value) -> str | None:
        stream = io.StringIO()
        self._make_yaml().dump({"k": value}, stream)
        text = stream.getvalue()
        if not text.startswith("k: ") or text.count("\n") != 1:
            return None
        return text[3:-1]

    def _scalar(self, value: str) -> str | None:
        """How ruamel writes ``value`` as a block mapping value or sequence item (the same in both), or None
        when that depends on where it stands (line breaks, lengths near the line width)."""
        if len(value) > _LONGEST or _LINE_BREAKS.search(value):
            return None
        forced = self._force_quotes(value)
        if not forced and _PLAIN.match(value):
            return value
        if value == "":
            return "''"
        from ruamel.yaml.nodes import ScalarNode

        analysis = self._emitter.analyze_scalar(value)
        if not forced:  # the choices of ruamel's Emitter.choose_scalar_style, in its order
            if analysis.allow_block_plain and self._resolver.resolve(ScalarNode, value, (True, False)) == _STR_TAG:
                return value
            if analysis.allow_double_quoted and "'" in value:
                return self._ruamel_scalar(value)  # double-quoted: escaping is ruamel's business
        if analysis.allow_single_quoted:
            return "'" + value.replace("'", "''") + "'"
        return self._ruamel_scalar(value)

    def _key(self, key) -> str:
        if type(key) is not str or len(key) > 100 or self.scalar(key) != key:
            raise _Unsupported  # a quoted, long or odd key: ruamel may write it as a complex key
        return key

    def _leaf(self, value) -> str:
        kind = type(value)
        if kind is str:
            text = self.scalar(value)
        elif kind is bool:
            text = "true" if value else "false"
        elif kind is int:
            text = str(value)
        elif kind is dict or kind is list:
            text = "{}" if kind is dict else "[]"  # only empty ones reach here
        else:
            text = None  # None, floats, other types: ruamel decides
        if text is None:
            raise _Unsupported
        return text

    def _mapping(self, mapping: dict, indent: int, out: list, first_prefix: str | None = None) -> None:
        pad = " " * indent
        keys = self._keys
        for key, value in mapping.items():
            key_text = keys.get(key)
            if key_text is None:
                if len(keys) > 4096:  # keys are the objects' field and label names: few, unless misused
                    keys.clear()
                key_text = keys[key] = self._key(key)
            if first_prefix is None:
                out.append(pad)
            else:
                out.append(first_prefix)
                first_prefix = None
            kind = type(value)
            if kind is dict and value:
                out.append(key_text + ":\n")
                self._mapping(value, indent + 2, out)
            elif kind is list and value:
                out.append(key_text + ":\n")
                self._sequence(value, indent + 2, out)
            else:
                out.append(f"{key_text}: {self._leaf(value)}\n")

    def _sequence(self, items: list, dash_column: int, out: list) -> None:
        dash = " " * dash_column + "- "
        for item in items:
            kind = type(item)
            if kind is dict and item:
                self._mapping(item, dash_column + 2, out, first_prefix=dash)
            elif kind is list and item:
                raise _Unsupported
            else:
                out.append(f"{dash}{self._leaf(item)}\n")

    def dump_all(self, documents: list) -> str | None:
        """The documents, each after a ``---`` line; None when one holds what only ruamel should write."""
        out: list[str] = []
        try:
            for document in documents:
                if type(document) is not dict or not document:
                    return None
                out.append("---\n")
                self._mapping(document, 0, out)
        except _Unsupported:
            return None
        return "".join(out)
