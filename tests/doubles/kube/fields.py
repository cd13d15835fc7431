"""What the API server does with fields, to the degree the console's tests need it.

Field paths are tuples of keys; a list is one leaf (Kubernetes' "atomic" lists: the console only sends
whole lists), which is also how ``managedFields`` records them (``f:ports: {}``). Label selectors follow
the equality- and set-based syntax of ``kubectl get -l``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

Path = tuple[str, ...]

# Bookkeeping the server owns: never part of what a manager applies or owns.
_SERVER_META = {"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation",
                "deletionTimestamp", "selfLink"}


def leaf_paths(obj: Any, prefix: Path = ()) -> set[Path]:
    """Every leaf path of ``obj``; empty dicts count as leaves so ``{}`` values are owned too."""
    if not isinstance(obj, dict) or (not obj and prefix):
        return {prefix}
    paths: set[Path] = set()
    for key, value in obj.items():
        if prefix == ("metadata",) and key in _SERVER_META:
            continue
        if not prefix and key in ("status", "apiVersion", "kind"):
            continue
        if prefix == ("metadata",) and key in ("name", "namespace"):
            continue
        paths |= leaf_paths(value, (*prefix, key))
    return paths


def get_path(obj: Any, path: Path, default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def has_path(obj: Any, path: Path) -> bool:
    marker = object()
    return get_path(obj, path, marker) is not marker


def set_path(obj: dict, path: Path, value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            obj[key] = {}
        obj = obj[key]
    obj[path[-1]] = copy.deepcopy(value)


def delete_path(obj: dict, path: Path) -> None:
    """Remove the leaf and any dict left empty above it (as SSA does when a manager drops a field)."""
    parents = []
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            return
        parents.append((obj, key))
        obj = obj[key]
    obj.pop(path[-1], None)
    for parent, key in reversed(parents):
        if parent[key]:
            break
        del parent[key]


def to_fields_v1(paths: set[Path]) -> dict:
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def from_fields_v1(tree: dict, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    children = {k: v for k, v in (tree or {}).items() if k.startswith("f:")}
    if not children:
        return {prefix} if prefix else set()
    for key, sub in children.items():
        paths |= from_fields_v1(sub, (*prefix, key[2:]))
    return paths


def overlaps(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def without_bookkeeping(obj: dict) -> dict:
    clean = copy.deepcopy(obj)
    meta = clean.get("metadata", {})
    for key in _SERVER_META:
        meta.pop(key, None)
    return clean


# ----------------------------------------------------------------------------------- label selectors

_SET_RULE = re.compile(r"^\s*([^\s!=,()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_RULE = re.compile(r"^\s*([^\s!=,()]+)\s*(==|=|!=)\s*([^\s!=,()]*)\s*$")
_EXISTS_RULE = re.compile(r"^\s*(!?)\s*([^\s!=,()]+)\s*$")


class SelectorError(ValueError):
    pass


def _split_rules(selector: str) -> list[str]:
    rules, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            rules.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        rules.append(current)
    return rules


def label_matcher(selector: str | None):
    """A predicate over a labels dict, or ``SelectorError`` for a selector the API server would refuse."""
    checks = []
    for rule in _split_rules(selector or ""):
        if m := _SET_RULE.match(rule):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif m := _EQ_RULE.match(rule):
            key, op, value = m.groups()
            if op == "!=":
                checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif m := _EXISTS_RULE.match(rule):
            negate, key = m.groups()
            if negate:
                checks.append(lambda labels, k=key: k not in labels)
            else:
                checks.append(lambda labels, k=key: k in labels)
        else:
            raise SelectorError(f"unable to parse requirement: {rule!r}")
    return lambda labels: all(check(labels or {}) for check in checks)
