"""Compare what the console renders with what a cluster (or the platform repository) holds. Pure functions.

Only what the console sets is compared, as server-side apply owns it: a map is compared key by key for
the keys the desired object has (a label someone added, a default the API server filled in are not the
console's fields); a list or a scalar must be equal. Server-populated fields (uid, resourceVersion,
creationTimestamp, generation, managedFields, status) and the annotations kubectl and Argo CD add are
dropped from the live side first, so they never read as drift.
"""

from __future__ import annotations

import hashlib
from typing import Any

SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
                   "deletionGracePeriodSeconds", "ownerReferences")
# Annotations other tools write on objects they see or sync: never the console's.
FOREIGN_ANNOTATION_PREFIXES = ("kubectl.kubernetes.io/", "argocd.argoproj.io/", "deployment.kubernetes.io/")
# The label the API server sets on every namespace.
SERVER_LABELS = ("kubernetes.io/metadata.name",)
MAX_PATHS = 50


def normalize_live(obj: dict) -> dict:
    """``obj`` without the fields the API server or other tools populate (a copy; ``obj`` is untouched)."""
    out = {key: value for key, value in obj.items() if key != "status"}
    metadata = dict(out.get("metadata") or {})
    for key in SERVER_METADATA:
        metadata.pop(key, None)
    if "annotations" in metadata:
        annotations = {k: v for k, v in (metadata["annotations"] or {}).items()
                       if not k.startswith(FOREIGN_ANNOTATION_PREFIXES)}
        if annotations:
            metadata["annotations"] = annotations
        else:
            metadata.pop("annotations")
    if "labels" in metadata:
        metadata["labels"] = {k: v for k, v in (metadata["labels"] or {}).items() if k not in SERVER_LABELS}
    out["metadata"] = metadata
    return out


def field_paths(desired: Any, live: Any, path: str = "") -> list[str]:
    """Dotted paths (``spec.hard.pods``, ``spec.egress``) where ``live`` differs from ``desired``."""
    paths: list[str] = []
    _diff(desired, live, path, paths)
    return paths[:MAX_PATHS]


def _diff(desired: Any, live: Any, path: str, out: list[str]) -> None:
    if desired == live or len(out) >= MAX_PATHS:  # the common case, decided without walking
        return
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            out.append(path or ".")
            return
        for key, value in desired.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in live:
                out.append(child)
            else:
                _diff(value, live[key], child, out)
        return
    if _canonical(desired) != _canonical(live):
        out.append(path or ".")


def _canonical(value: Any) -> Any:
    """Numbers the API server hands back as strings (quantities, ports) compare equal to what was sent."""
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return value


def object_key(obj: dict) -> tuple[str, str, str, str]:
    """(apiVersion, kind, namespace or "", name): how desired and live objects are matched."""
    metadata = obj.get("metadata") or {}
    return (obj.get("apiVersion", ""), obj.get("kind", ""), metadata.get("namespace") or "", metadata.get("name", ""))


def git_blob_sha(content: str) -> str:
    """The id git gives a file with this content, so a tree listing says which files differ unread."""
    data = content.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's object id, not security
