"""The URLconf as data: every route the console serves, with the HTTP methods it answers.

The authorization matrix and the hostile-input suites are generated from this walk, so a new endpoint
cannot skip them: a route missing from the matrix's table of rules fails the matrix test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# Django's own pages: the admin is covered by the admin's staff check, the auth views by Django.
SKIPPED_PREFIXES = ("admin/", "accounts/")
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    name: str  # namespaced URL name, e.g. "api:repository-sync"
    pattern: str  # the joined route or regex
    methods: tuple[str, ...] | None  # None: a plain function view, whose methods the table must state

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api:")

    @property
    def has_format_suffix(self) -> bool:
        return "format" in self.pattern

    def path(self, values: dict[str, object]) -> str:
        """The concrete path for the given parameter values, from either route syntax or a router regex."""
        path = self.pattern.replace("^", "").replace("$", "")
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m.group(1)]), path)
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), path)
        return "/" + path.replace("\\", "")


def _methods_of(callback) -> tuple[str, ...] | None:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route: the router's own method → action map, less what the viewset turns off
        allowed = getattr(getattr(callback, "cls", None), "http_method_names", None) or list(actions)
        return tuple(sorted(method.upper() for method in actions
                            if method in allowed and method.upper() in ALL_METHODS))  # HEAD is GET's
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return None
    return tuple(sorted(m.upper() for m in view_class.http_method_names
                        if m.upper() in ALL_METHODS and hasattr(view_class, m)))


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern),
                             pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield Route(name=name, pattern=prefix + str(pattern.pattern), methods=_methods_of(pattern.callback))


def console_routes() -> list[Route]:
    """Every route of the console itself (admin and Django's auth pages left out)."""
    return [route for route in _walk(get_resolver().url_patterns)
            if not route.pattern.startswith(SKIPPED_PREFIXES)]
