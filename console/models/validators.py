"""Field validators shared by every interface (portal, API, admin all go through model validation).

One validator per kind of value; the rules themselves are in ``provisioning.inputs`` so that the renderer and
the adapters accept exactly what these accept.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

from provisioning import inputs

SLUG_MAX_LENGTH = 40
# A project's description becomes its GitLab group's (at most 255 characters, Namespace::Detail) and part of
# the AppProject's spec.description (also 255, where the renderer shortens what it builds around it).
DESCRIPTION_MAX_LENGTH = 255


def _raise(problem: str | None, code: str) -> None:
    if problem:
        raise ValidationError(problem, code=code)


def validate_dns_label(value: str) -> None:
    _raise(inputs.dns_label_problem(value, max_length=SLUG_MAX_LENGTH), "invalid_dns_label")


def validate_git_revision(value: str) -> None:
    """A deploy revision: HEAD, a branch, a tag or a commit, by git's own ref-name rules."""
    _raise(inputs.git_revision_problem(value), "invalid_revision")


def validate_repo_relative_path(value: str) -> None:
    _raise(inputs.repo_relative_path_problem(value), "invalid_path")


def validate_image_tag(value: str) -> None:
    _raise(inputs.image_tag_problem(value), "invalid_tag")


def validate_display_name(value: str) -> None:
    """Names people read (annotations, forge groups): no line breaks, tabs or terminal escapes."""
    _raise(inputs.display_name_problem(value), "invalid_name")


def platform_reserved_namespaces() -> tuple[str, ...]:
    return (settings.ARGOCD_NAMESPACE, *settings.RESERVED_NAMESPACES)


def validate_tenant_namespace(value: str) -> None:
    """A project's namespace must not be one the platform runs in (the AppProject would grant it)."""
    _raise(inputs.namespace_reserved_problem(value, reserved=platform_reserved_namespaces()), "reserved_namespace")


def validate_organization_slug_not_reserved(value: str) -> None:
    """An organization whose every project namespace ("<slug>-<project>") would be reserved."""
    problem = inputs.namespace_prefix_reserved_problem(f"{value}-", reserved=platform_reserved_namespaces())
    _raise(problem and f"{value!r} cannot be an organization: {problem}", "reserved_namespace")


def validate_external_url(value: str) -> None:
    """A canonical https:// URL without credentials (http:// to loopback only when DSO_ALLOW_HTTP_LOOPBACK is
    on). Which hosts a repository URL may reach is checked by Repository.clean() (console.network)."""
    from console.network import validate_url_syntax

    validate_url_syntax(value)
