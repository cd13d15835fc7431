"""Group names ↔ roles: `dso/{organization}/{role}` and `dso/{organization}/{project}/{role}` by default.

One pattern is read two ways: the console turns a signed-in user's groups into organization and project
roles (console.services.oidc), and the generated Argo CD AppProject roles name the same groups, so one group
at the identity provider grants the same role in both. Plain Python: no Django.

A pattern is literal text with placeholders `{organization}`, `{project}` (project patterns only) and
`{role}`; the slugs match DNS labels (they are the console's slugs) and the role one of ROLES. A leading "/"
on a group (Keycloak's "full group path") is ignored.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

ROLES = ("reader", "developer", "maintainer", "owner")
SLUG = r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?"


class PatternError(ValueError):
    pass


@dataclass(frozen=True)
class GroupRole:
    organization: str
    project: str | None
    role: str


@dataclass(frozen=True)
class GroupPattern:
    text: str
    regex: re.Pattern
    fields: frozenset[str]

    def format(self, *, organization: str, role: str, project: str | None = None) -> str:
        """The group name that grants `role` (for generated Argo CD roles and documentation)."""
        values = {"organization": organization, "role": role}
        if "project" in self.fields:
            values["project"] = project or ""
        return self.text.format(**values)

    def match(self, group: str) -> GroupRole | None:
        found = self.regex.fullmatch(group[1:] if group.startswith("/") else group)
        if not found:
            return None
        return GroupRole(found["organization"], found.groupdict().get("project"), found["role"])


def compile_pattern(text: str, *, project: bool) -> GroupPattern:
    """Check and compile a pattern; PatternError names what is wrong with it."""
    needed = {"organization", "role"} | ({"project"} if project else set())
    allowed = needed
    parts: list[str] = []
    seen: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise PatternError(f"group pattern {text!r} is not valid: {error}") from None
    for literal, name, spec, conversion in parsed:
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            raise PatternError(f"group pattern {text!r}: unknown placeholder {{{name}}}; use "
                               + ", ".join(f"{{{n}}}" for n in sorted(allowed)))
        if name in seen:
            raise PatternError(f"group pattern {text!r} names {{{name}}} twice")
        seen.append(name)
        parts.append(f"(?P<role>{'|'.join(ROLES)})" if name == "role" else f"(?P<{name}>{SLUG})")
    missing = needed - set(seen)
    if missing:
        raise PatternError(f"group pattern {text!r} needs " + ", ".join(f"{{{n}}}" for n in sorted(missing)))
    return GroupPattern(text=text, regex=re.compile("".join(parts)), fields=frozenset(seen))


def roles_from_groups(groups, *, organization_pattern: GroupPattern,
                      project_pattern: GroupPattern) -> dict[tuple[str, str | None], str]:
    """{(organization, project or None): strongest role} for the groups that match either pattern."""
    rank = {role: index for index, role in enumerate(ROLES)}
    roles: dict[tuple[str, str | None], str] = {}
    for group in groups:
        if not isinstance(group, str):
            continue
        found = project_pattern.match(group) or organization_pattern.match(group)
        if found is None:
            continue
        key = (found.organization, found.project)
        if key not in roles or rank[found.role] > rank[roles[key]]:
            roles[key] = found.role
    return roles
