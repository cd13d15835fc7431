"""Tag policies: which of an image's tags is the one to deploy.

* ``semver``: the highest version matching an npm-style range (``~1.4``, ``^2``, ``>=2.0 <3``; the
  ``semantic_version`` library's NpmSpec), a leading ``v`` allowed; pre-releases only when asked.
* ``regex``: tags matching a pattern; its named group ``sort`` (or first group) orders them, numerically
  when every value is a number, as versions when they are, as text otherwise.
* ``latest_build``: the newest image by the ``created`` time of its config blob (optionally only tags
  matching a pattern), for registries where tags are build ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from semantic_version import NpmSpec, Version

from provisioning.errors import InvalidInput

SEMVER, REGEX, LATEST_BUILD = "semver", "regex", "latest_build"
KINDS = (SEMVER, REGEX, LATEST_BUILD)


@dataclass(frozen=True)
class TagPolicy:
    kind: str
    constraint: str = ""  # semver range
    pattern: str = ""  # regex (regex and latest_build)
    include_prereleases: bool = False

    def __post_init__(self):
        validate(self)


def validate(policy: TagPolicy) -> None:
    if policy.kind not in KINDS:
        raise InvalidInput(f"a tag policy is one of {', '.join(KINDS)}", code="invalid_tag_policy")
    if policy.kind == SEMVER:
        try:
            NpmSpec(policy.constraint.strip() or "*")
        except ValueError as error:
            raise InvalidInput(f"{policy.constraint!r} is not a version range (e.g. '~1.4' or '>=2.0 <3'): {error}",
                               code="invalid_tag_policy") from error
    if policy.kind == REGEX and not policy.pattern:
        raise InvalidInput("a regex policy needs a pattern, e.g. '^build-(?P<sort>\\d+)$'", code="invalid_tag_policy")
    if policy.pattern:
        try:
            compiled = re.compile(policy.pattern)
        except re.error as error:
            raise InvalidInput(f"the pattern is not a regular expression: {error}", code="invalid_tag_policy") from error
        if policy.kind == REGEX and not compiled.groups:
            raise InvalidInput("a regex policy sorts by a capture: add a group, e.g. (?P<sort>\\d+)",
                               code="invalid_tag_policy")


def parse_version(tag: str) -> Version | None:
    text = tag[1:] if tag[:1] in ("v", "V") else tag
    if not text[:1].isdigit():
        return None
    try:
        return Version(text)
    except ValueError:
        pass
    try:
        return Version.coerce(text)
    except ValueError:
        return None


def select(policy: TagPolicy, tags: Iterable[str], *, created: Mapping[str, datetime | None] | None = None
           ) -> str | None:
    """The tag the policy picks among ``tags``, or None. ``created`` is needed by ``latest_build`` only."""
    tags = list(dict.fromkeys(tags))
    if policy.kind == SEMVER:
        return _select_semver(policy, tags)
    if policy.kind == REGEX:
        return _select_regex(policy, tags)
    return _select_latest_build(policy, tags, created or {})


def candidates_needing_created(policy: TagPolicy, tags: Iterable[str]) -> list[str]:
    """The tags ``latest_build`` must know the build time of (those its pattern admits)."""
    if policy.kind != LATEST_BUILD:
        return []
    pattern = re.compile(policy.pattern) if policy.pattern else None
    return [tag for tag in tags if pattern is None or pattern.search(tag)]


def _select_semver(policy: TagPolicy, tags: list[str]) -> str | None:
    spec = NpmSpec(policy.constraint.strip() or "*")
    best: tuple[Version, str] | None = None
    for tag in tags:
        version = parse_version(tag)
        if version is None:
            continue
        if version.prerelease:
            if not policy.include_prereleases:
                continue
            # npm ranges admit a pre-release only on a tuple they name; asked for, it counts as its release.
            matches = version in spec or Version(major=version.major, minor=version.minor,
                                                 patch=version.patch) in spec
        else:
            matches = version in spec
        if matches and (best is None or (version, tag) > best):
            best = (version, tag)
    return best[1] if best else None


def _sort_value(raw: str):
    if raw.isdigit():
        return (2, int(raw), raw)
    version = parse_version(raw)
    if version is not None:
        return (1, version, raw)
    return (0, raw, raw)


def _select_regex(policy: TagPolicy, tags: list[str]) -> str | None:
    compiled = re.compile(policy.pattern)
    keyed = []
    for tag in tags:
        match = compiled.search(tag)
        if not match:
            continue
        value = match.groupdict().get("sort") if "sort" in compiled.groupindex else match.group(1)
        if value is None:
            continue
        keyed.append((value, tag))
    if not keyed:
        return None
    if all(value.isdigit() for value, _ in keyed):
        return max(keyed, key=lambda item: (int(item[0]), item[1]))[1]
    kinds = {_sort_value(value)[0] for value, _ in keyed}
    if len(kinds) == 1:
        return max(keyed, key=lambda item: (_sort_value(item[0]), item[1]))[1]
    return max(keyed)[1]  # mixed kinds: plain text order, predictable at least


def _select_latest_build(policy: TagPolicy, tags: list[str], created: Mapping[str, datetime | None]) -> str | None:
    dated = [(created[tag], tag) for tag in candidates_needing_created(policy, tags) if created.get(tag)]
    return max(dated)[1] if dated else None
