"""A fingerprint of everything a project's rendered manifests depend on, so that provisioning can skip
rendering and delivering a project whose manifests cannot have changed.

Rendering is deterministic (same spec, same bytes), so the manifests depend only on the spec, on where
they are delivered, and on the rendering code itself. The code's part is the source of the rendering
modules and the YAML library's version: an upgrade that changes what is rendered changes every
fingerprint, and the next provisioning of each project renders and delivers again.
"""

from __future__ import annotations

import dataclasses
import hashlib
from functools import cache
from importlib import import_module
from importlib.metadata import version
from pathlib import Path

# The modules whose source decides the manifests' bytes (a package counts with all its modules).
RENDERING_MODULES = ("provisioning.manifests", "provisioning.block_yaml", "provisioning.inputs")


@cache
def renderer_fingerprint() -> str:
    digest = hashlib.sha256(f"ruamel.yaml {version('ruamel.yaml')}\n".encode())
    for name in RENDERING_MODULES:
        module = import_module(name)
        path = Path(module.__file__)
        files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
        for file in files:
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def spec_fingerprint(spec, **destination: str) -> str:
    """Changes whenever the manifests rendered from ``spec`` and delivered to ``destination`` could."""
    # A frozen dataclass of strings and tuples has a deterministic repr naming every field: 10x cheaper
    # than a canonical JSON of dataclasses.asdict, and as exact.
    assert dataclasses.is_dataclass(spec)
    canonical = f"{renderer_fingerprint()}\n{sorted(destination.items())!r}\n{spec!r}"
    return hashlib.sha256(canonical.encode()).hexdigest()
