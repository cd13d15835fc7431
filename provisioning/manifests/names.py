"""Names and labels of the rendered objects: readable when they fit, hashed when they must be cut."""

from __future__ import annotations

import hashlib

from provisioning import inputs
from provisioning.errors import InvalidInput
from provisioning.manifests.spec import InfraAppSpec, ProjectSpec

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ORGANIZATION_LABEL = "dso.console/organization"
PROJECT_LABEL = "dso.console/project"
INFRA_APP_LABEL = "dso.console/infra-app"
ARGOCD_FINALIZER = "resources-finalizer.argocd.argoproj.io"
ARGOCD_API_VERSION = "argoproj.io/v1alpha1"
# The platform's objects in a tenant namespace; a tenant Application may not take them over (see
# FailOnSharedResource in argocd.py), and docs/tenant-baseline.md tells tenants to pick other names.
QUOTA_NAME = "project-quota"
LIMIT_RANGE_NAME = "project-limits"
NETWORK_POLICY_NAME = "default-deny"

_MAX_LABEL = inputs.DNS_LABEL_MAX
_HASH_LEN = 8


def _bounded_name(readable: str, identity: str) -> str:
    """``readable`` if it fits a DNS label, else a truncated prefix plus a hash of ``identity``.

    The hash is taken over the unambiguous identity (e.g. "org/project"), not over ``readable``, so two
    long names sharing their first 54 characters still get different suffixes.
    """
    if len(readable) <= _MAX_LABEL:
        return readable
    suffix = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:_HASH_LEN]
    prefix = readable[: _MAX_LABEL - _HASH_LEN - 1].rstrip("-")
    return f"{prefix}-{suffix}"


def check_slug(what: str, value: str) -> None:
    if inputs.dns_label_problem(value):
        raise InvalidInput(
            f"{what} {value!r} must be a DNS-1123 label: lowercase letters, digits and '-', "
            f"starting and ending with a letter or digit, at most {_MAX_LABEL} characters"
        )


def namespace_name(organization_slug: str, project_slug: str) -> str:
    check_slug("organization_slug", organization_slug)
    check_slug("project_slug", project_slug)
    return _bounded_name(f"{organization_slug}-{project_slug}", f"{organization_slug}/{project_slug}")


def app_project_name(spec: ProjectSpec) -> str:
    # One AppProject per namespace: the namespace name is already unique, readable and label-safe.
    return namespace_name(spec.organization_slug, spec.project_slug)


def application_name(spec: ProjectSpec, app: InfraAppSpec) -> str:
    return application_name_for(spec.organization_slug, spec.project_slug, app.name)


def application_name_for(organization_slug: str, project_slug: str, app_name: str) -> str:
    # Applications share the Argo CD namespace with every other project, so the name carries the
    # project's namespace; it also becomes a label value (app.kubernetes.io/instance), hence <= 63.
    # "a"/"b" + app "c-d" and "a"/"b-c" + app "d" both read "a-b-c-d": the console refuses the second.
    ns = namespace_name(organization_slug, project_slug)
    return _bounded_name(f"{ns}-{app_name}", f"{organization_slug}/{project_slug}/{app_name}")


def group_name(pattern: str, *, organization: str, project: str = "", role: str) -> str:
    """The OIDC group of ``role``; ``InvalidInput`` when the pattern names a field it is not given."""
    try:
        return pattern.format(organization=organization, project=project, role=role)
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidInput(
            f"group pattern {pattern!r} may only use {{organization}}, {{project}} and {{role}}: {exc}"
        ) from exc
