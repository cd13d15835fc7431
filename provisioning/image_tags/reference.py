"""Image references found in YAML, with the node to edit when bumping."""

from __future__ import annotations

import re
from dataclasses import dataclass

from provisioning.image_tags.safe_yaml import MappingNode, ScalarNode

# Templated values ("{{ .Values.x }}") and prose are not image references.
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/:@]*")


@dataclass(frozen=True)
class Hit:
    location: str
    image: str
    tag: str | None
    digest: str | None
    source: str
    # How bump edits it: "map" rewrites (or inserts) ``tag_key`` inside ``node``; "string" rewrites the
    # whole "repo:tag" scalar ``node``.
    form: str
    node: MappingNode | ScalarNode
    tag_node: ScalarNode | None = None
    tag_key: str = "tag"

    def plain(self) -> tuple:
        """What the parse cache keeps: no nodes, so a cached blob costs a few strings."""
        return (self.location, self.image, self.tag, self.digest, self.source)


def parse_reference(text: str | None) -> tuple[str, str | None, str | None] | None:
    """"reg/repo:tag@sha256:..." -> (name, tag, digest); None unless it carries a tag or a digest."""
    if not text or not _REFERENCE.fullmatch(text):
        return None
    name, _, digest = text.partition("@")
    tag = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):  # a colon before the last slash is a registry port
        name, tag = name[:colon], name[colon + 1 :]
    if not name or (tag is None and not digest) or tag == "":
        return None
    return name, tag, digest or None


def join_reference(name: str, tag: str | None, digest: str | None) -> str:
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
