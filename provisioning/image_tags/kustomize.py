"""Image references in kustomizations (``images:``) and in the plain manifests they list."""

from __future__ import annotations

import posixpath
import re

from provisioning.image_tags.helm import _image_string
from provisioning.image_tags.model import SOURCE_KUSTOMIZE_IMAGES, SOURCE_MANIFEST
from provisioning.image_tags.reference import Hit
from provisioning.image_tags.safe_yaml import (
    Budget,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    document_prefix,
    format_location,
    items,
    mapping_get,
    scalar,
)

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
REFERENCE_FIELDS = ("resources", "bases", "components")
CONTAINER_FIELDS = ("containers", "initContainers", "ephemeralContainers")
_REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://|^git@|^github\.com/|^gitlab\.com/|^bitbucket\.org/|\?ref=", re.I)


def kustomization_hits(docs: list[Node], budget: Budget) -> list[Hit]:
    out: list[Hit] = []
    if not docs:
        return out
    budget.visit(0)
    images = mapping_get(docs[0], "images")
    if not isinstance(images, SequenceNode):
        return out
    for entry in images.value:
        budget.visit(1)
        if not isinstance(entry, MappingNode):
            continue
        fields = {key: value for key, _, value in items(entry)}
        name = scalar(fields.get("name"))
        if name is None:
            continue
        tag_node = fields.get("newTag")
        out.append(
            Hit(
                location=format_location(("images", ("name", name))),
                image=scalar(fields.get("newName")) or name,
                tag=scalar(tag_node),
                digest=scalar(fields.get("digest")),
                source=SOURCE_KUSTOMIZE_IMAGES,
                form="map",
                node=entry,
                tag_node=tag_node if isinstance(tag_node, ScalarNode) else None,
                tag_key="newTag",
            )
        )
    return out


def kustomization_references(docs: list[Node], budget: Budget) -> list[str]:
    refs: list[str] = []
    if not docs:
        return refs
    for field in REFERENCE_FIELDS:
        value = mapping_get(docs[0], field)
        if isinstance(value, SequenceNode):
            for entry in value.value:
                budget.visit(1)
                text = scalar(entry)
                if text:
                    refs.append(text)
    return refs


def resolve_reference(directory: str, ref: str) -> str | None:
    """Repository-relative path of ``ref`` or None when it leaves the repository (remote or ``../..``)."""
    if _REMOTE.search(ref) or ref.startswith("/"):
        return None
    target = posixpath.normpath(posixpath.join(directory, ref))
    if target == ".." or target.startswith("../"):
        return None
    return target


def manifest_hits(docs: list[Node], budget: Budget) -> list[Hit]:
    out: list[Hit] = []
    for index, doc in enumerate(docs):
        _walk(doc, document_prefix(index), 0, budget, out)
    return out


def _walk(node: Node, path: tuple, depth: int, budget: Budget, out: list[Hit]) -> None:
    budget.visit(depth)
    if isinstance(node, MappingNode):
        for key, _, value in items(node):
            if key in CONTAINER_FIELDS and isinstance(value, SequenceNode):
                _containers(value, path + (key,), depth + 1, budget, out)
            else:
                _walk(value, path + (key,), depth + 1, budget, out)
    elif isinstance(node, SequenceNode):
        for index, value in enumerate(node.value):
            _walk(value, path + (index,), depth + 1, budget, out)


def _containers(node: SequenceNode, path: tuple, depth: int, budget: Budget, out: list[Hit]) -> None:
    for index, container in enumerate(node.value):
        budget.visit(depth + 1)
        if not isinstance(container, MappingNode):
            continue
        name = scalar(mapping_get(container, "name"))
        image = mapping_get(container, "image")
        if not isinstance(image, ScalarNode):
            continue
        selector = ("name", name) if name else index
        hit = _image_string(image, path + (selector, "image"), SOURCE_MANIFEST)
        if hit is not None:
            out.append(hit)
