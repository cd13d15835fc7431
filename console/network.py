"""Settings → the network policy for URLs that project members type (repository external URLs).

The rules themselves live in ``provisioning.netguard``; this module only says which hosts this platform
allows (``DSO_ALLOWED_INTERNAL_HOSTS``, loopback under ``DSO_ALLOW_HTTP_LOOPBACK``) and which it never
lets an external URL reach (its own internal forge and the console itself).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

from provisioning.netguard import NetworkPolicy, UrlRefused, check_syntax, check_url


def repository_network_policy() -> NetworkPolicy:
    local_forge = [settings.LOCAL_FORGE_URL] if settings.FORGE_KIND == "local" else []
    root_group = settings.FORGE_ROOT_GROUP.strip("/")
    # The internal GitLab may also host the teams' own repositories: only its DSO root group is off limits,
    # on every port of its host (its web and git URLs may differ).
    gitlab = [f"{url.rstrip('/')}/{root_group}" for url in (settings.GITLAB_URL, settings.GITLAB_GIT_URL) if url]
    return NetworkPolicy.build(
        allow_loopback=settings.ALLOW_HTTP_LOOPBACK,
        allowed_internal_hosts=settings.ALLOWED_INTERNAL_HOSTS,
        # The console itself (its API, and the local forge it may serve) and the local forge.
        forbidden_urls=[*local_forge, getattr(settings, "PUBLIC_URL", "") or ""],
        forbidden_any_port_urls=gitlab,
    )


def validate_url_syntax(value: str) -> None:
    """Field validator: a canonical https URL without credentials (see netguard.check_syntax)."""
    try:
        check_syntax(value, allow_loopback_http=settings.ALLOW_HTTP_LOOPBACK)
    except UrlRefused as exc:
        raise ValidationError(exc.message, code=exc.code) from None


def repository_url_problem(value: str) -> ValidationError | None:
    """For Repository.clean(): why the worker may not connect to ``value``, or None. Syntax problems are
    left to the field validator, so each is reported once."""
    try:
        check_syntax(value, allow_loopback_http=settings.ALLOW_HTTP_LOOPBACK)
    except UrlRefused:
        return None
    try:
        check_url(value, repository_network_policy())
    except UrlRefused as exc:
        return ValidationError(exc.message, code=exc.code)
    return None
