"""The libyaml-backed composer gives the node graphs the pure-Python one gave: the same values, styles and
character spans (which bumps rewrite in place), aliases as shared nodes, and clear problems."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from provisioning.image_tags import safe_yaml

SAMPLES = [
    "image:\n  repository: reg/app\n  tag: \"1.20\"\n",
    "# café ☃ 𝄞\nname: 'é'\nlist: [a, 'b', \"c\", {d: 1}]\nblock: |\n  x\n  y\nfolded: >\n  z\n",
    "a: &x {tag: '1'}\nb: *x\nc: ~\nd:\ne: null\n",
    "---\nfirst: 1\n---\nsecond: 2\n...\n---\n",
    "- name: web\n  image: reg/web:1.0\n- name: db\n  image: reg/db@sha256:" + "a" * 64 + "\n",
    "? complex\n: value\nplain key: plain value   # comment\n",
]


def shape(node, seen=None):
    """A comparable view of a node graph: kind, value, style and span of every node."""
    seen = seen if seen is not None else set()
    span = (node.start_mark.index, node.end_mark.index, node.start_mark.line, node.start_mark.column)
    if id(node) in seen:
        return ("alias", span)
    seen.add(id(node))
    if isinstance(node.value, str):
        # An empty value has no characters: libyaml marks it right after its "key:" (where
        # edit.replace_scalar writes the new value), the pure-Python parser at the next line's start.
        return ("scalar", node.value, node.style or None, node.tag.endswith(":null"), span if node.value else "")
    if node.value and isinstance(node.value[0], tuple):
        return ("map", node.flow_style, span, [(shape(k, seen), shape(v, seen)) for k, v in node.value])
    return ("seq", node.flow_style, span, [shape(item, seen) for item in node.value])


@pytest.mark.parametrize("text", SAMPLES)
def test_same_graph_as_the_pure_python_composer(text):
    before = [doc for doc in YAML(typ="safe", pure=True).compose_all(text) if doc is not None]

    after = safe_yaml.compose(text)

    assert [shape(doc) for doc in after] == [shape(doc) for doc in before]


def test_an_alias_is_the_anchored_node_not_a_copy():
    document = safe_yaml.compose("a: &x {tag: '1'}\nb: *x\n")[0]

    assert document.value[0][1] is document.value[1][1]


@pytest.mark.parametrize("text,expected", [
    ("a: [1, 2\n", "invalid YAML at line"),
    ("a: *nowhere\n", "undefined alias"),
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ("{a: " * 2000 + "1" + "}" * 2000, "nested too deeply"),
    ("a: b: c\n", "invalid YAML at line 1"),
])
def test_problems_are_reported_not_raised(text, expected):
    with pytest.raises(safe_yaml.YamlProblem) as problem:
        safe_yaml.compose(text)

    assert expected in problem.value.reason


@pytest.mark.parametrize("text", SAMPLES)
def test_our_composer_and_the_c_one_give_the_same_graph(text, monkeypatch):
    with_c = safe_yaml.compose(text)
    monkeypatch.setattr(safe_yaml, "_C_COMPOSER", False)

    ours = safe_yaml.compose(text)

    assert safe_yaml._C_COMPOSER is False and [shape(doc) for doc in ours] == [shape(doc) for doc in with_c]


def test_a_redefined_anchor_replaces_the_earlier_one_for_what_follows():
    document = safe_yaml.compose("a: &x one\nb: &x two\nc: *x\n")[0]

    assert [value.value for _, value in document.value] == ["one", "two", "two"]
    assert document.value[2][1] is document.value[1][1]
