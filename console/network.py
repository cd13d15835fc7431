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
    forge_urls = [settings.LOCAL_FORGE_URL] if settings.FORGE_KIND == "local" else []
    gitlab_urls = [u for u in (settings.GITLAB_URL, settings.GITLAB_GIT_URL) if u]
    policy = NetworkPolicy.build(
        allow_loopback=settings.ALLOW_HTTP_LOOPBACK,
        allowed_internal_hosts=settings.ALLOWED_INTERNAL_HOSTS,
        forbidden_urls=[*forge_urls, getattr(settings, "PUBLIC_URL", "") or ""],
    )
    if gitlab_urls:
        # Every port of the internal GitLab's host: its copies must not be mirrored into other projects.
        gitlab = NetworkPolicy.build(forbidden_urls=gitlab_urls, forbid_any_port=True)
        policy = NetworkPolicy(allow_loopback=policy.allow_loopback, allowed_hosts=policy.allowed_hosts,
                               allowed_networks=policy.allowed_networks,
                               forbidden_origins=policy.forbidden_origins | gitlab.forbidden_origins)
    return policy


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
