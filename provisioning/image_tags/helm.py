"""Image references in Helm values files and appVersion in Chart.yaml."""

from __future__ import annotations

from provisioning.image_tags.model import SOURCE_HELM_VALUES
from provisioning.image_tags.reference import Hit, parse_reference
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


def values_hits(docs: list[Node], budget: Budget) -> list[Hit]:
    out: list[Hit] = []
    for index, doc in enumerate(docs):
        _walk(doc, document_prefix(index), 0, budget, out)
    return out


def _walk(node: Node, path: tuple, depth: int, budget: Budget, out: list[Hit]) -> None:
    budget.visit(depth)
    if isinstance(node, MappingNode):
        pairs = items(node)
        hit = _image_map(node, path, pairs) if any(key == "repository" for key, _, _ in pairs) else None
        if hit is not None:
            out.append(hit)
            return
        for key, _, value in pairs:
            # Merged content ("<<: *defaults") is reported once, where its anchor is defined.
            if key == "<<":
                continue
            if key == "image" and isinstance(value, ScalarNode):
                budget.visit(depth + 1)
                hit = _image_string(value, path + (key,))
                if hit is not None:
                    out.append(hit)
                continue
            _walk(value, path + (key,), depth + 1, budget, out)
    elif isinstance(node, SequenceNode):
        for index, value in enumerate(node.value):
            _walk(value, path + (index,), depth + 1, budget, out)


def _image_map(node: MappingNode, path: tuple, pairs: list | None = None) -> Hit | None:
    fields = {key: value for key, _, value in (items(node) if pairs is None else pairs)}
    repository = scalar(fields.get("repository"))
    if repository is None or not isinstance(fields.get("repository"), ScalarNode):
        return None
    named_image = bool(path) and path[-1] == "image"
    if "tag" not in fields and "digest" not in fields and not named_image:
        return None
    registry = scalar(fields.get("registry"))
    image = f"{registry.rstrip('/')}/{repository.lstrip('/')}" if registry else repository
    tag_node = fields.get("tag")
    return Hit(
        location=format_location(path),
        image=image,
        tag=scalar(tag_node),
        digest=scalar(fields.get("digest")),
        source=SOURCE_HELM_VALUES,
        form="map",
        node=node,
        tag_node=tag_node if isinstance(tag_node, ScalarNode) else None,
    )


def _image_string(node: ScalarNode, path: tuple, source: str = SOURCE_HELM_VALUES) -> Hit | None:
    parsed = parse_reference(scalar(node))
    if parsed is None:
        return None
    name, tag, digest = parsed
    return Hit(format_location(path), name, tag, digest, source, "string", node)


def chart_app_version(docs: list[Node], budget: Budget) -> str | None:
    if not docs:
        return None
    budget.visit(0)
    return scalar(mapping_get(docs[0], "appVersion"))
