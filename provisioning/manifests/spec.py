"""What the renderer is given: plain, frozen values (usable as cache keys), no Django."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class QuotaSpec:
    """ResourceQuota ``hard`` values and the LimitRange defaults, as Kubernetes quantities.

    The LimitRange's defaults and maxima are clamped to the quota when rendered, so a small quota still
    admits a pod that states no resources (the API server refuses a LimitRange whose default exceeds its
    max, and a quota smaller than the default limit would refuse every such pod).
    """

    cpu_requests: str = "4"
    cpu_limits: str = "8"
    memory_requests: str = "8Gi"
    memory_limits: str = "16Gi"
    pods: str = "50"
    services: str = "20"
    persistent_volume_claims: str = "10"
    requests_storage: str = "50Gi"
    default_cpu_request: str = "100m"
    default_memory_request: str = "128Mi"
    default_cpu_limit: str = "500m"
    default_memory_limit: str = "512Mi"
    max_cpu: str = "2"
    max_memory: str = "4Gi"


@dataclass(frozen=True)
class NetworkSpec:
    """What the platform lets through the default-deny NetworkPolicy besides the namespace itself and DNS.

    ``ingress_namespaces``: namespaces whose pods may reach every pod of the project (ingress controller,
    monitoring). ``egress_namespaces`` / ``egress_cidrs``: destinations every pod may reach, on any port.
    ``tenant_policies``: whether the project's own Applications may add NetworkPolicies (allow rules on
    top of the platform's; NetworkPolicies only ever add allowed traffic).
    """

    ingress_namespaces: tuple[str, ...] = ()
    egress_namespaces: tuple[str, ...] = ()
    egress_cidrs: tuple[str, ...] = ()
    dns_namespace: str = "kube-system"
    tenant_policies: bool = True


# Console roles from least to most powerful, the Argo CD project roles rendered for them.
CONSOLE_ROLES = ("reader", "developer", "maintainer", "owner")


@dataclass(frozen=True)
class GroupsSpec:
    """How an OIDC group name is built for a console role (``str.format`` fields: organization, project,
    role). A project role is bound to its project group and to the organization's group of the same role,
    since an organization role covers every project of the organization in the console too."""

    project_pattern: str = "dso/{organization}/{project}/{role}"
    organization_pattern: str = "dso/{organization}/{role}"


@dataclass(frozen=True)
class InfraAppSpec:
    name: str
    repo_url: str
    kind: str  # "helm" | "kustomize"
    path: str = "."
    revision: str = "HEAD"
    value_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProjectSpec:
    organization_slug: str
    organization_name: str
    project_slug: str
    project_name: str
    description: str = ""
    source_repos: tuple[str, ...] = ()
    infra_apps: tuple[InfraAppSpec, ...] = ()
    quota: QuotaSpec = field(default_factory=QuotaSpec)
    network: NetworkSpec = field(default_factory=NetworkSpec)
    groups: GroupsSpec = field(default_factory=GroupsSpec)
    destination_server: str = "https://kubernetes.default.svc"
    argocd_namespace: str = "argocd"
    managed_by: str = "dso-console"
    # Namespaces no project may take besides kube-*, default and ``argocd_namespace`` ("name" or "prefix-*").
    reserved_namespaces: tuple[str, ...] = ()
