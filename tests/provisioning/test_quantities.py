"""Kubernetes quantities: apimachinery's grammar, exact values, and the canonical form the API server stores."""

from __future__ import annotations

from decimal import Decimal

import pytest

from provisioning import quantities


@pytest.mark.parametrize("text,value", [
    ("1", "1"), ("500m", "0.5"), ("1.5", "1.5"), (".5", "0.5"), ("2.", "2"), ("1Ki", "1024"),
    ("1.5Gi", "1610612736"), ("1e3", "1000"), ("1E-3", "0.001"), ("+2k", "2000"), ("3n", "0.000000003"),
    ("1Ei", str(2**60)),
])  # fmt: skip
def test_parse_is_exact(text, value):
    assert quantities.parse(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "K", "1K", "1ki", "1 Gi", " 1", "1Gi ", "NaN", "Infinity", "1.2.3", "0x10",
                                  "1e", "Gi", "1iB", "١٢", "1" * 41])  # fmt: skip
def test_malformed_quantities_are_refused(text):
    with pytest.raises(ValueError):
        quantities.parse(text)


@pytest.mark.parametrize("text,canonical", [
    ("1000m", "1"), ("1500m", "1500m"), ("0.5", "500m"), ("2000", "2k"), ("50", "50"), ("1.5Gi", "1536Mi"),
    ("1024Ki", "1Mi"), ("1023Ki", "1023Ki"), ("16Gi", "16Gi"), ("1000000", "1M"), ("1e3", "1e3"),
    ("1500e-3", "1500e-3"), ("512", "512"), ("8Ei", "8Ei"),
])  # fmt: skip
def test_canonical_matches_what_the_api_server_writes_back(text, canonical):
    assert quantities.canonical(text) == canonical
    assert quantities.parse(quantities.canonical(text)) == quantities.parse(text)


def test_canonical_rounds_finer_than_nano_up():
    assert quantities.canonical("0.0000000001") == "1n"


def test_problem_names_what_is_wrong():
    assert quantities.problem("4", what="cpu", unit="1m", maximum="8") is None
    assert "exceeds the limit of 8" in quantities.problem("9", what="cpu", unit="1m", maximum="8")
    assert "greater than zero" in quantities.problem("0", what="cpu")
    assert "greater than zero" in quantities.problem("-1", what="cpu")
    assert "finer than '1m'" in quantities.problem("0.0001", what="cpu", unit="1m")
    assert "finer than '1'" in quantities.problem("1.5", what="pods")
    assert "larger than Kubernetes can hold" in quantities.problem("8Ei", what="memory")
    assert quantities.problem("7Ei", what="memory") is None
    assert "below the minimum" in quantities.problem("1Mi", what="memory", minimum="64Mi")
    assert "not a Kubernetes quantity" in quantities.problem("lots", what="memory")


@pytest.mark.parametrize("text", ["1e999999999", "1e-999999999", "9" * 40, "1e99999999999999999999999999999999999",
                                  "0." + "0" * 37 + "1", "1e61"])  # fmt: skip
def test_hostile_amounts_get_a_reason_never_an_arithmetic_error(text):
    problem = quantities.problem(text, what="cpu", unit="1m", maximum="32")
    assert problem and problem.startswith("cpu")


@pytest.mark.parametrize("value", [None, 4, ["4Gi"], {"cpu": "2"}])
def test_a_value_that_is_not_a_string_is_refused_as_malformed_not_unhashable(value):
    # The readers are cached by value: an unhashable one must still be a malformed quantity.
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        quantities.parse(value)
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        quantities.canonical(value)
    assert "is not a Kubernetes quantity" in quantities.problem(value, what="cpu")


def test_cached_readers_answer_as_the_first_time():
    first = (quantities.parse("1536Mi"), quantities.canonical("1536Mi"), quantities.problem("0", what="pods"))
    again = (quantities.parse("1536Mi"), quantities.canonical("1536Mi"), quantities.problem("0", what="pods"))
    assert first == again == (1536 * 1024**2, "1536Mi", "pods '0' must be greater than zero")
