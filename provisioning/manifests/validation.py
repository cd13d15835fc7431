"""``validate(spec)``: everything the renderer refuses, with a sentence naming the first problem."""

from __future__ import annotations

import ipaddress
import re

from provisioning import inputs, quantities
from provisioning.errors import InvalidInput
from provisioning.manifests.names import check_slug, group_name, namespace_name
from provisioning.manifests.spec import CONSOLE_ROLES, ProjectSpec

# AppProject sourceRepos and destinations accept globs and "!" negations: one stray "*" would open the
# project to every repository or namespace, so these characters are refused outright.
_GLOB_CHARS = set("*?[]!")
# Argo CD's validateGroupName (pkg/apis/application/v1alpha1/types.go): a group is one field of its
# RBAC CSV, so quotes, line breaks, tabs and (unquoted) commas would break the policy file.
_GROUP_FORBIDDEN = re.compile(r"[\",\n\r\t]")
_GROUP_MAX = 256
# CPU is counted in millicores (finer values are rounded up by the API server), everything else whole.
_QUOTA_UNITS = {"cpu_requests": "1m", "cpu_limits": "1m", "default_cpu_request": "1m",
                "default_cpu_limit": "1m", "max_cpu": "1m"}  # fmt: skip


def _check_repo_url(what: str, url: str) -> None:
    if not url or any(c.isspace() for c in url) or _GLOB_CHARS & set(url):
        raise InvalidInput(f"{what} {url!r} must be a plain repository URL (no spaces, no wildcards)")
    scheme, sep, rest = url.partition("://")
    userinfo = rest.split("/", 1)[0].rpartition("@")[0] if sep else ""
    # "ssh://git@host" names a user, but any userinfo on HTTP(S) is a token waiting to leak.
    if ":" in userinfo or (userinfo and scheme.lower() in ("http", "https")):
        raise InvalidInput(f"{what} must not carry credentials in the URL")


def _check_relative_path(what: str, value: str) -> None:
    problem = inputs.repo_relative_path_problem(value)
    if problem:
        raise InvalidInput(f"{what} {value!r}: {problem}")


def _check_quota(spec: ProjectSpec) -> None:
    for name, value in vars(spec.quota).items():
        problem = quantities.problem(value, what=f"quota {name}", unit=_QUOTA_UNITS.get(name, "1"))
        if problem:
            raise InvalidInput(problem)


def _check_network(spec: ProjectSpec) -> None:
    net = spec.network
    for what, names in (("ingress namespace", net.ingress_namespaces), ("egress namespace", net.egress_namespaces),
                        ("DNS namespace", (net.dns_namespace,))):  # fmt: skip
        for name in names:
            check_slug(what, name)
    for cidr in net.egress_cidrs:
        try:
            ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            raise InvalidInput(f"egress CIDR {cidr!r} is not a network such as '10.0.0.0/8': {exc}") from exc


def group_problem(name: str) -> str | None:
    if not name or name != name.strip() or _GROUP_FORBIDDEN.search(name) or len(name) > _GROUP_MAX:
        return (f"group {name!r} must be non-empty, at most {_GROUP_MAX} characters, without surrounding "
                "spaces, quotes, commas, tabs or line breaks (Argo CD reads it as one CSV field)")
    return None


def _check_groups(spec: ProjectSpec) -> None:
    for role in CONSOLE_ROLES:
        for pattern, project in ((spec.groups.project_pattern, spec.project_slug),
                                 (spec.groups.organization_pattern, "")):  # fmt: skip
            problem = group_problem(group_name(pattern, organization=spec.organization_slug, project=project,
                                               role=role))
            if problem:
                raise InvalidInput(problem)


def validate(spec: ProjectSpec) -> None:
    """Raise ``InvalidInput`` naming the first thing wrong with ``spec``."""
    check_slug("organization_slug", spec.organization_slug)
    check_slug("project_slug", spec.project_slug)
    check_slug("argocd_namespace", spec.argocd_namespace)
    check_slug("managed_by", spec.managed_by)
    ns = namespace_name(spec.organization_slug, spec.project_slug)
    reserved = inputs.namespace_reserved_problem(ns, reserved=(spec.argocd_namespace, *spec.reserved_namespaces))
    if reserved:
        raise InvalidInput(reserved)
    if not spec.destination_server or _GLOB_CHARS & set(spec.destination_server):
        raise InvalidInput("destination_server must be a plain cluster URL (no wildcards)")
    for repo in spec.source_repos:
        _check_repo_url("source repository", repo)
    _check_quota(spec)
    _check_network(spec)
    _check_groups(spec)
    seen: set[str] = set()
    for app in spec.infra_apps:
        check_slug("infra app name", app.name)
        if app.name in seen:
            raise InvalidInput(f"infra app name {app.name!r} is used twice")
        seen.add(app.name)
        if app.kind not in ("helm", "kustomize"):
            raise InvalidInput(f"infra app {app.name!r}: kind must be 'helm' or 'kustomize'")
        _check_repo_url(f"infra app {app.name!r} repo_url", app.repo_url)
        if app.repo_url not in spec.source_repos:
            raise InvalidInput(f"infra app {app.name!r}: {app.repo_url!r} is not a source repository")
        _check_relative_path(f"infra app {app.name!r} path", app.path)
        revision_problem = inputs.git_revision_problem(app.revision)
        if revision_problem:
            raise InvalidInput(f"infra app {app.name!r}: revision {app.revision!r}: {revision_problem}")
        if app.value_files and app.kind != "helm":
            raise InvalidInput(f"infra app {app.name!r}: value_files only apply to Helm apps")
        for value_file in app.value_files:
            _check_relative_path(f"infra app {app.name!r}: value file", value_file)
