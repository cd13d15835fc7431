"""Bounded YAML reading: a node graph, never constructed Python objects.

We only *compose* documents. Composition keeps an alias as a second reference to the anchored node, so a
billion-laughs file stays a few dozen nodes in memory; the walkers then count every node they visit
(aliases included) against ``Limits.max_nodes`` and stop with a problem instead of expanding. Working on
nodes also keeps every scalar as the text the author wrote ("1.20" stays "1.20", not 1.2) and gives the
character span that ``bump`` rewrites in place.
"""

from __future__ import annotations

import re

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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


def compose(text: str) -> list[Node]:
    """All documents of ``text`` as node graphs (empty documents dropped)."""
    yaml = YAML(typ="safe", pure=True)
    try:
        return [doc for doc in yaml.compose_all(text) if doc is not None]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise YamlProblem(f"invalid YAML{where}: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise YamlProblem(f"invalid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    except RecursionError:
        # The composer recurses per nesting level; thousands of "[[[[" must not take the worker down.
        raise YamlProblem("YAML nested too deeply to parse") from None


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
