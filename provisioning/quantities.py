"""Kubernetes resource quantities ("500m", "1.5Gi", "2e3"), read and written as the API server does.

The grammar is apimachinery's (``k8s.io/apimachinery/pkg/api/resource/quantity.go``)::

    <quantity> ::= <signedNumber><suffix>
    <number>   ::= <digits> | <digits>. | <digits>.<digits> | .<digits>
    <suffix>   ::= Ki | Mi | Gi | Ti | Pi | Ei | n | u | m | "" | k | M | G | T | P | E | (e|E)<signedNumber>

``kubernetes.utils.parse_quantity`` is looser (it takes "1K", "NaN", " 1"), so the console keeps its own
reader. ``canonical`` writes a value the way the API server stores it ("1000m" -> "1", "1.5Gi" ->
"1536Mi", "2000" -> "2k"): rendering the canonical form keeps Git, Argo CD and the live object equal, so
a quota never shows as drift only because it was spelled differently.
"""

from __future__ import annotations

import functools
import re
from decimal import Context, Decimal, localcontext

_QUANTITY = re.compile(
    r"^(?P<sign>[+-]?)(?P<number>[0-9]+(\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {exponent: suffix for suffix, exponent in _DECIMAL.items()}
# The API server keeps quantities as int64 in their smallest unit; past that it silently rounds.
INT64_MAX = 2**63 - 1
MAX_LENGTH = 40
# Enough digits for every value of at most MAX_LENGTH characters once the exponent is bounded: arithmetic
# stays exact and never traps (an exponent of 1e999999999 would overflow Decimal's default context).
_CONTEXT = Context(prec=120)
_MAX_EXPONENT = 60


# Quotas and limits repeat the same few spellings across every project ("2", "4Gi", "500m"): each is read,
# checked and written back once per process (a fifth of a project's rendering before).
_CACHE_SIZE = 4096


def parse(value: str) -> Decimal:
    """The exact value of ``value`` in base units (cores, bytes, pods); ``ValueError`` when malformed."""
    _check_type(value)
    return _parse(value)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse(value: str) -> Decimal:
    with localcontext(_CONTEXT):
        number, _, _ = _split(value)
    return number


def _check_type(value) -> None:
    if not isinstance(value, str):  # before the caches, which would refuse an unhashable value otherwise
        raise ValueError(f"{value!r} is not a Kubernetes quantity")


def _split(value: str) -> tuple[Decimal, str, str]:
    if len(value) > MAX_LENGTH:  # a string: the public readers checked its type (_check_type)
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as '500m', '2', '4Gi' or '1e3'")
    number = Decimal(match["sign"] + match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * (1024 ** _BINARY[suffix]), "binary", suffix
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix]), "decimal", suffix
    exponent = int(suffix[1:])
    if abs(exponent) > _MAX_EXPONENT:
        raise ValueError(f"{value!r} is out of the range of Kubernetes quantities")
    return number.scaleb(exponent), "exponent", suffix


def problem(value: str, *, what: str = "quantity", unit: str = "1", minimum: str | None = None,
            maximum: str | None = None) -> str | None:
    """None when ``value`` is a positive quantity with whole multiples of ``unit`` within the bounds.

    ``unit`` is the precision the resource is counted in: "1m" for CPU (the API server rounds finer
    values up), "1" for bytes and objects.
    """
    try:
        _check_type(value)
    except ValueError as exc:
        return f"{what}: {exc}"
    return _problem(value, what=what, unit=unit, minimum=minimum, maximum=maximum)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _problem(value: str, *, what: str, unit: str, minimum: str | None, maximum: str | None) -> str | None:
    try:
        amount = parse(value)
    except ValueError as exc:
        return f"{what}: {exc}"
    with localcontext(_CONTEXT):
        return _bounds_problem(value, amount, what=what, unit=unit, minimum=minimum, maximum=maximum)


def _bounds_problem(value: str, amount: Decimal, *, what: str, unit: str, minimum: str | None,
                    maximum: str | None) -> str | None:
    step = parse(unit)
    if amount <= 0:
        return f"{what} {value!r} must be greater than zero"
    if amount > step * INT64_MAX:
        return f"{what} {value!r} is larger than Kubernetes can hold"
    if amount % step:
        return f"{what} {value!r} is finer than {unit!r}, the smallest amount Kubernetes counts"
    if minimum is not None and amount < parse(minimum):
        return f"{what} {value!r} is below the minimum of {minimum}"
    if maximum is not None and amount > parse(maximum):
        return f"{what} {value!r} exceeds the limit of {maximum}"
    return None


def canonical(value: str) -> str:
    """``value`` as the API server writes it back (its canonical form), keeping its family of suffixes."""
    _check_type(value)
    return _canonical_cached(value)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _canonical_cached(value: str) -> str:
    with localcontext(_CONTEXT):
        return _canonical(value)


def _canonical(value: str) -> str:
    amount, family, _ = _split(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if family == "binary" and amount == amount.to_integral_value() and amount >= 1024:
        exponent = 0
        while exponent < 6 and amount % (1024 ** (exponent + 1)) == 0:
            exponent += 1
        suffix = next((s for s, e in _BINARY.items() if e == exponent), "")
        return f"{sign}{_plain(amount / 1024**exponent)}{suffix}"
    if amount == 0:
        return "0"
    # Decimal forms: the largest exponent (a multiple of 3, from nano up to exa) leaving a whole mantissa;
    # finer than nano rounds up, as the API server does.
    exponent = -9
    if amount.scaleb(9) != amount.scaleb(9).to_integral_value():
        amount = amount.scaleb(9).to_integral_value(rounding="ROUND_CEILING").scaleb(-9)
    while exponent < 18 and (amount.scaleb(-(exponent + 3))) == amount.scaleb(-(exponent + 3)).to_integral_value():
        exponent += 3
    mantissa = _plain(amount.scaleb(-exponent))
    if family == "exponent":
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    return f"{sign}{mantissa}{_DECIMAL_SUFFIX[exponent]}"


def _plain(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
