"""The fast block writer gives exactly ruamel's bytes (as configured for manifests), or leaves the document
to ruamel: checked on the manifests' own shapes and on thousands of generated strings and documents."""

from __future__ import annotations

import io
import random

import pytest

from provisioning.manifests import render as manifests
from provisioning.block_yaml import BlockWriter


def ruamel_dump(documents: list) -> str:
    yaml = manifests._yaml()
    yaml.explicit_start = True
    stream = io.StringIO()
    yaml.dump_all(documents, stream)
    return stream.getvalue()


@pytest.fixture
def writer() -> BlockWriter:
    # A fresh writer: its caches must not hide a wrong first answer.
    return BlockWriter(manifests._yaml, manifests._WRITER._force_quotes)


ALPHABET = ("a", "Z", "0", "7", " ", "  ", ":", ": ", "#", " #", "-", "- ", "'", '"', "\\", "/", ".", "@", "!",
            "&", "*", "?", "%", "`", ",", "[", "]", "{", "}", "|", ">", "=", "+", "~", "<<", "é", "ß", "☃", "\t",
            "\x07", "true", "no", "On", "null", "0x1F", "1e3", ".inf", "-.5", "2024-01-01", "12:30", "_", "¡")
WORDS = ["", "y", "Yes", "NO", "on", "OFF", "True", "false", "Null", "~", "=", "<<", "0755", "1:30", "1e3", "8Gi",
         "500m", ".5", "+1", "-1", ".inf", "-.inf", ".NaN", "nan", "inf", "2001-12-14", "a: b", "a:b", "a #b",
         "a#b", "- a", "-a", "? a", "?a", ": a", "'quoted'", "it's", 'say "hi"', "back\\slash", " lead",
         "trail ", "tab\there", "bell\x07", "café", "雪", "\ufeffbom", "x" * 999, "x " * 300,
         "https://git.example.test/dso/acme/shop/infra.git", "DSO Console: ACME / Shop", "CreateNamespace=false",
         "p, proj:acme-shop:reader, applications, get, acme-shop/*, allow", "View the project's logs", "a,b",
         "a, b", "a ,b", "a,", "a*", "a'", "a''b", "a, #b", "a,#b", "a: ,b", "a,: b", "x, yes", "on, off"]


def generated(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [''.join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 8))) for _ in range(count)]


@pytest.mark.parametrize("value", WORDS)
def test_every_tricky_scalar_is_written_as_ruamel_writes_it(writer, value):
    documents = [{"k": value, "list": [value, {"inner": value}]}]

    fast = writer.dump_all(documents)

    assert fast is None or fast == ruamel_dump(documents)


def test_generated_strings_match_ruamel_as_values_and_items(writer):
    values = generated(3000, seed=10)
    documents = [{"metadata": {"v": value}, "items": [value, {"name": value, "also": [value]}]} for value in values]

    fast = [writer.dump_all([document]) for document in documents]

    mismatches = [(v, f) for v, f, d in zip(values, fast, documents) if f is not None and f != ruamel_dump([d])]
    assert mismatches == []
    assert sum(f is not None for f in fast) > len(values) * 0.9, "the fast path should cover almost all"


def test_generated_keys_match_ruamel_or_fall_back(writer):
    keys = generated(500, seed=11)
    for key in keys:
        document = {key: "v", "nested": {key: [1, True, False, {}, []]}}
        fast = writer.dump_all([document])
        assert fast is None or fast == ruamel_dump([document]), key


def test_shapes_it_leaves_to_ruamel(writer):
    for document in ({"none": None}, {"float": 1.5}, {"lists": [[1, 2]]}, {"multi": "line\nbreak"},
                     {"long": "x" * 5000}, {1: "int key"}, {}):
        assert writer.dump_all([document]) is None


def test_every_rendered_manifest_takes_the_fast_path():
    from tests.provisioning.test_manifests import long_spec, simple_spec

    for spec in (simple_spec(), long_spec(), simple_spec(description="It's: a #1 'shop' — café")):
        objects = manifests.render_objects(spec)
        fast = manifests._WRITER.dump_all(objects)
        assert fast is not None and fast == ruamel_dump(objects)
