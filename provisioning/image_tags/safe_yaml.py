"""Bounded YAML reading: a node graph, never constructed Python objects.

We only *compose* documents, with PyYAML's C composer over libyaml (the pure-Python parsers spend 90 % of
a history scan tokenizing) when libyaml bounds nesting itself, otherwise (and for what the C composer
refuses) from libyaml's event stream with a composer of our own that keeps no Python recursion, so deep
nesting is a problem reported, never a crash. Composition keeps an alias as a second reference to the anchored node, so a
billion-laughs file stays a few dozen nodes in memory; the walkers then count every node they visit
(aliases included) against ``Limits.max_nodes`` and stop with a problem instead of expanding. Working on
nodes also keeps every scalar as the text the author wrote ("1.20" stays "1.20", not 1.2) and gives the
character span that ``bump`` rewrites in place.
"""

from __future__ import annotations

import re

import yaml
from yaml.composer import ComposerError
from yaml.error import MarkedYAMLError, YAMLError
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from provisioning.image_tags.model import Limits

__all__ = ["Budget", "YamlProblem", "decode", "compose", "items", "scalar", "format_location"]


class YamlProblem(Exception):
    """A file we refuse to read; ``reason`` is shown to people as is."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Budget:
    """Counts nodes and depth over one file's walk."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.nodes = 0

    def visit(self, depth: int) -> None:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise YamlProblem(
                f"YAML too complex: more than {self.limits.max_nodes} nodes once aliases are followed "
                "(alias bomb?)"
            )
        if depth > self.limits.max_depth:
            raise YamlProblem(f"YAML nested deeper than {self.limits.max_depth} levels")


def decode(data: bytes, limits: Limits) -> str:
    if len(data) > limits.max_file_bytes:
        raise YamlProblem(f"file too large ({len(data)} bytes, limit {limits.max_file_bytes})")
    if b"\0" in data:
        raise YamlProblem("binary file (contains NUL bytes), not YAML")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(f"not valid UTF-8 (byte {exc.start})") from None


class _CachedResolver(yaml.CSafeLoader):
    """PyYAML's safe loader, its implicit-tag resolution remembered per distinct scalar: the same keys and
    values come back in every version of a file, and the regular expressions are most of what is left of a
    parse. Valid as no path resolver is registered (the safe loader has none)."""

    _resolved: dict = {}

    def resolve(self, kind, value, implicit):
        if value is not None and len(value) > _RESOLVED_LENGTH:
            return super().resolve(kind, value, implicit)  # long text is rarely repeated: not kept
        key = (kind, value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._resolved) >= _RESOLVED_MAX:
                self._resolved.clear()
            self._resolved[key] = tag
        return tag


_RESOLVED_MAX = 100_000
_RESOLVED_LENGTH = 200
# libyaml is required: without it a scan would fall back to a pure-Python parser ten times slower.
_Parser = _CachedResolver if not yaml.SafeLoader.yaml_path_resolvers else yaml.CSafeLoader
# Far deeper than any walker goes (Limits.max_depth), far shallower than what a 1 MiB file could nest.
_MAX_PARSE_DEPTH = 10_000
_NO_KEY = object()


def _libyaml_bounds_nesting() -> bool:
    """Whether libyaml refuses deep nesting itself (0.2.5 on: 1,000 levels), which is what makes its
    composer (recursive, in C) safe on any input."""
    parser = _Parser("[" * 2000 + "]" * 2000)
    try:
        while parser.get_event() is not None:
            pass
    except MarkedYAMLError as exc:
        return "nesting depth" in str(exc.problem)
    finally:
        parser.dispose()
    return False


_C_COMPOSER = _libyaml_bounds_nesting()


def compose(text: str) -> list[Node]:
    """All documents of ``text`` as node graphs (empty documents dropped).

    PyYAML's C composer builds the same graph four times faster than ours, but refuses a redefined anchor
    (YAML 1.2 allows it) and words an undefined alias its own way: on its ComposerError the text is composed
    again by ours, which gives the answer and the message it always gave."""
    if _C_COMPOSER:
        parser = _Parser(text)
        try:
            documents = []
            while parser.check_node():
                documents.append(parser.get_node())
            return [doc for doc in documents if doc is not None]
        except ComposerError:
            pass
        except MarkedYAMLError as exc:
            raise _problem(exc) from None
        except YAMLError as exc:
            raise _other_problem(exc) from None
        finally:
            parser.dispose()
    parser = _Parser(text)
    try:
        return [doc for doc in _compose_all(parser) if doc is not None]
    except MarkedYAMLError as exc:
        raise _problem(exc) from None
    except YAMLError as exc:
        raise _other_problem(exc) from None
    finally:
        parser.dispose()


def _problem(exc: MarkedYAMLError) -> YamlProblem:
    if "nesting depth" in str(exc.problem):  # libyaml's own bound (1,000 levels)
        return YamlProblem("YAML nested too deeply to parse")
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return YamlProblem(f"invalid YAML{where}: {exc.problem or exc.context}")


def _other_problem(exc: YAMLError) -> YamlProblem:
    return YamlProblem(f"invalid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")


def _compose_all(parser) -> list[Node | None]:
    get = parser.get_event
    event = get()
    assert isinstance(event, StreamStartEvent)
    documents = []
    while True:
        event = get()
        if isinstance(event, StreamEndEvent):
            return documents
        assert isinstance(event, DocumentStartEvent)
        documents.append(_compose_document(parser, get))
        event = get()
        assert isinstance(event, DocumentEndEvent)


def _compose_document(parser, get) -> Node | None:
    """One document's node graph, built with an explicit stack. An alias is the anchored node itself (a
    second reference, not a copy), as in PyYAML's and ruamel's composers; a redefined anchor replaces the
    earlier one for what follows (YAML 1.2)."""
    resolve = parser.resolve
    anchors: dict[str, Node] = {}
    stack: list[list] = []  # [container node, pending key node of a mapping]
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(ScalarNode, event.value, event.implicit)
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        elif kind is AliasEvent:
            if event.anchor not in anchors:
                raise YamlProblem(f"invalid YAML at line {event.start_mark.line + 1}, column "
                                  f"{event.start_mark.column + 1}: found undefined alias {event.anchor!r}")
            node = anchors[event.anchor]
        elif kind is SequenceStartEvent or kind is MappingStartEvent:
            is_sequence = kind is SequenceStartEvent
            node_class = SequenceNode if is_sequence else MappingNode
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(node_class, None, event.implicit)
            node = node_class(tag, [], event.start_mark, None, flow_style=event.flow_style)
            if event.anchor is not None:
                anchors[event.anchor] = node
            stack.append([node, _NO_KEY])
            if len(stack) > _MAX_PARSE_DEPTH:
                raise YamlProblem("YAML nested too deeply to parse")
            continue
        elif kind is SequenceEndEvent or kind is MappingEndEvent:
            node = stack.pop()[0]
            node.end_mark = event.end_mark
        else:  # a document that ends before its node starts: empty
            return None
        if kind is ScalarEvent and event.anchor is not None:
            anchors[event.anchor] = node
        if not stack:
            return node
        frame = stack[-1]
        container = frame[0]
        if type(container) is SequenceNode:
            container.value.append(node)
        elif frame[1] is _NO_KEY:
            frame[1] = node
        else:
            container.value.append((frame[1], node))
            frame[1] = _NO_KEY


def scalar(node: Node | None) -> str | None:
    """The text of a scalar node; None for nulls, empty values and non-scalars."""
    if not isinstance(node, ScalarNode):
        return None
    if node.tag.endswith(":null") or node.value == "":
        return None
    return node.value


def items(node: MappingNode) -> list[tuple[str, Node, Node]]:
    """(key, key node, value node) for every scalar-keyed pair; complex keys are not ours to read."""
    return [(k.value, k, v) for k, v in node.value if isinstance(k, ScalarNode)]


def mapping_get(node: Node, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    for k, _, v in items(node):
        if k == key:
            return v
    return None


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-/]+")


def format_location(parts: tuple) -> str:
    """("app", "image") -> "app.image"; ints -> "[3]"; ("name", "web") selectors -> "[name=web]"."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, tuple):
            out += f"[{part[0]}={part[1]}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


def document_prefix(index: int) -> tuple:
    """The first document keeps plain paths so adding a second one never renames existing locations."""
    return () if index == 0 else (("doc", index),)


__all__ += ["MappingNode", "ScalarNode", "SequenceNode", "Node", "mapping_get", "document_prefix"]
