"""Minimal textual edits: change one scalar's characters, leave every other byte of the file alone.

ruamel's round-trip dumper keeps comments but still re-flows some whitespace and quoting; a bump must
show up in review as a one-value diff, so we splice the new text into the composed node's span instead.
"""

from __future__ import annotations

import re

from provisioning.errors import InvalidInput
from provisioning.image_tags.reference import Hit, join_reference, parse_reference
from provisioning.image_tags.safe_yaml import ScalarNode

# YAML 1.1 and 1.2 would read these plain scalars as numbers, booleans or null, not as the tag string.
_NOT_A_STRING = re.compile(
    r"[-+]?(\d[\d_]*)?(\.[\d_]*)?([eE][-+]?\d+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
    r"|\d+(:[0-5]?\d)+(\.\d*)?|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON"
    r"|off|Off|OFF|null|Null|NULL|~"
)


def render(value: str, style: str | None) -> str:
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"' or _NOT_A_STRING.fullmatch(value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if style in (None, ""):
        return value
    raise InvalidInput("the tag is written as a block scalar; edit it by hand")


def replace_scalar(text: str, node: ScalarNode, value: str) -> str:
    start, end = node.start_mark.index, node.end_mark.index
    rendered = render(value, node.style)
    if start == end and start > 0 and text[start - 1] == ":":
        rendered = " " + rendered  # "tag:" with nothing after the colon
    return text[:start] + rendered + text[end:]


def set_tag(text: str, hit: Hit, tag: str) -> str:
    if hit.form == "string":
        name, _, _ = parse_reference(hit.node.value)
        return replace_scalar(text, hit.node, join_reference(name, tag, None))
    if hit.tag_node is not None:
        return replace_scalar(text, hit.tag_node, tag)
    return _insert_key(text, hit, tag)


def _insert_key(text: str, hit: Hit, tag: str) -> str:
    node = hit.node
    entry = f"{hit.tag_key}: {render(tag, None)}"
    if node.flow_style:
        close = node.end_mark.index - 1
        if text[close] != "}":
            raise InvalidInput(f"cannot add {hit.tag_key} to {hit.location} automatically")
        before = text[:close].rstrip()
        return before + ", " + entry + text[len(before) : close] + text[close:]
    first_key, _ = node.value[0]
    _, last_value = node.value[-1]
    if not isinstance(last_value, ScalarNode):
        raise InvalidInput(f"cannot add {hit.tag_key} to {hit.location} automatically")
    newline = "\r\n" if "\r\n" in text else "\n"
    eol = text.find("\n", last_value.end_mark.index)
    line = " " * first_key.start_mark.column + entry + newline
    if eol == -1:
        return text + newline + line.rstrip("\r\n")
    return text[: eol + 1] + line + text[eol + 1 :]
