"""The systems the console drives: the forge, the mirror, GitOps delivery, clusters, and the tenant
baseline every project's namespace gets."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from console.settings.environment import (
    DATA_DIR, PRODUCTION, env, env_bool, env_float, env_int, env_list, required,
)

# Fernet keys, comma separated; the first encrypts, all decrypt, so a key can be rotated in.
ENCRYPTION_KEYS = env_list("DSO_ENCRYPTION_KEYS")
if not ENCRYPTION_KEYS and PRODUCTION:
    raise ImproperlyConfigured("DSO_ENCRYPTION_KEYS must be set when DSO_ENV=production")

FORGE_KIND = env("DSO_FORGE", "local")
if FORGE_KIND not in {"local", "gitlab"}:
    raise ImproperlyConfigured("DSO_FORGE must be 'local' or 'gitlab'")
FORGE_ROOT_GROUP = env("DSO_FORGE_ROOT_GROUP", "dso")
LOCAL_FORGE_ROOT = Path(env("DSO_LOCAL_FORGE_ROOT", str(DATA_DIR / "forge"))).resolve()
LOCAL_FORGE_URL = (env("DSO_LOCAL_FORGE_URL", "http://127.0.0.1:8001/git") or "").rstrip("/")
LOCAL_FORGE_WRITE_TOKEN = required("DSO_LOCAL_FORGE_WRITE_TOKEN", "dev-forge-write-token")
LOCAL_FORGE_READ_TOKEN = required("DSO_LOCAL_FORGE_READ_TOKEN", "dev-forge-read-token")

GITLAB_URL = env("DSO_GITLAB_URL", "")
GITLAB_TOKEN = env("DSO_GITLAB_TOKEN", "")
GITLAB_BOT_USERNAME = env("DSO_GITLAB_BOT_USERNAME", "dso-console-bot")
GITLAB_BOT_TOKEN = env("DSO_GITLAB_BOT_TOKEN", "")
GITLAB_SSL_VERIFY = env_bool("DSO_GITLAB_SSL_VERIFY", True)
# Per-request timeout of GitLab API calls; a timeout is transient and the run retries with backoff.
GITLAB_TIMEOUT_SECONDS = env_float("DSO_GITLAB_TIMEOUT_SECONDS", 30.0)
# Where GitLab serves git over HTTP when it differs from DSO_GITLAB_URL (a proxy in front of it).
GITLAB_GIT_URL = env("DSO_GITLAB_GIT_URL", "")
# Protect mirrored default branches so only the bot pushes (per-user push rules need GitLab Premium).
GITLAB_PROTECT_MIRRORS = env_bool("DSO_GITLAB_PROTECT_MIRRORS", True)
if FORGE_KIND == "gitlab" and not (GITLAB_URL and GITLAB_TOKEN):
    raise ImproperlyConfigured("DSO_FORGE=gitlab needs DSO_GITLAB_URL and DSO_GITLAB_TOKEN")

MIRROR_CACHE_DIR = Path(env("DSO_MIRROR_CACHE_DIR", str(DATA_DIR / "mirror-cache"))).resolve()
MIRROR_TIMEOUT_SECONDS = env_float("DSO_MIRROR_TIMEOUT_SECONDS", 600.0)
# A sync that finds nothing new upstream lists the internal repository only when its last check is older than
# this: a push to the mirror behind the console's back is repaired within this delay (0: at every sync).
MIRROR_VERIFY_SECONDS = env_float("DSO_MIRROR_VERIFY_SECONDS", 300.0)
# Plain http:// external URLs are refused unless they point at loopback and this is on (the demo).
ALLOW_HTTP_LOOPBACK = env_bool("DSO_ALLOW_HTTP_LOOPBACK", False)
# External repository URLs reach only public addresses; these host names (may resolve to private addresses)
# and CIDR ranges are the exceptions, for platforms that mirror from their own network.
ALLOWED_INTERNAL_HOSTS = env_list("DSO_ALLOWED_INTERNAL_HOSTS")

PLATFORM_REPOSITORY = env("DSO_PLATFORM_REPOSITORY", "platform/gitops")
PLATFORM_BRANCH = env("DSO_PLATFORM_BRANCH", "main")
DELIVERY_WORK_DIR = Path(env("DSO_DELIVERY_WORK_DIR", str(DATA_DIR / "delivery"))).resolve()
DESTINATION_SERVER = env("DSO_DESTINATION_SERVER", "https://kubernetes.default.svc")
ARGOCD_NAMESPACE = env("DSO_ARGOCD_NAMESPACE", "argocd")
# Namespaces no project may take, besides kube-*, default and the Argo CD namespace ("name" or "prefix-*").
RESERVED_NAMESPACES = tuple(env_list("DSO_RESERVED_NAMESPACES"))
# Registered clusters (console.models.Cluster): each call to an API server gives up after this long, and a
# 5xx, 429 or timeout is retried this many times with exponential backoff before the run retries later.
CLUSTER_TIMEOUT_SECONDS = env_float("DSO_CLUSTER_TIMEOUT_SECONDS", 10.0)
CLUSTER_RETRIES = env_int("DSO_CLUSTER_RETRIES", 3)
CLUSTER_BACKOFF_SECONDS = env_float("DSO_CLUSTER_BACKOFF_SECONDS", 0.5)


# Tenant baseline (docs/tenant-baseline.md). Quotas: what a new project gets unless it asks for other
# amounts, and the limits a new organization starts with (platform admins change an organization's limits
# in the admin). CPU and memory cap requests and limits alike.
def _quantity_setting(name: str, default: str, unit: str = "1") -> str:
    from provisioning import quantities  # plain Python, no Django

    value = env(name, default)
    problem = quantities.problem(value, what=name, unit=unit)
    if problem:
        raise ImproperlyConfigured(problem)
    return quantities.canonical(value)


QUOTA_DEFAULTS = {
    "cpu": _quantity_setting("DSO_QUOTA_DEFAULT_CPU", "8", unit="1m"),
    "memory": _quantity_setting("DSO_QUOTA_DEFAULT_MEMORY", "16Gi"),
    "storage": _quantity_setting("DSO_QUOTA_DEFAULT_STORAGE", "50Gi"),
    "pods": env_int("DSO_QUOTA_DEFAULT_PODS", 50, minimum=1),
    "services": env_int("DSO_QUOTA_DEFAULT_SERVICES", 20, minimum=1),
}
QUOTA_ORGANIZATION_LIMITS = {
    "cpu": _quantity_setting("DSO_QUOTA_LIMIT_CPU", "32", unit="1m"),
    "memory": _quantity_setting("DSO_QUOTA_LIMIT_MEMORY", "64Gi"),
    "storage": _quantity_setting("DSO_QUOTA_LIMIT_STORAGE", "500Gi"),
    "pods": env_int("DSO_QUOTA_LIMIT_PODS", 200, minimum=1),
    "services": env_int("DSO_QUOTA_LIMIT_SERVICES", 100, minimum=1),
}
# Besides the namespace itself and DNS, the default-deny NetworkPolicy lets in traffic from these
# namespaces (ingress controller, monitoring) and lets pods reach these namespaces and networks.
NETWORK_INGRESS_NAMESPACES = tuple(env_list("DSO_NETWORK_INGRESS_NAMESPACES", "ingress-nginx,monitoring"))
NETWORK_EGRESS_NAMESPACES = tuple(env_list("DSO_NETWORK_EGRESS_NAMESPACES"))
NETWORK_EGRESS_CIDRS = tuple(env_list("DSO_NETWORK_EGRESS_CIDRS"))
NETWORK_DNS_NAMESPACE = env("DSO_NETWORK_DNS_NAMESPACE", "kube-system")
# Whether a project's own Applications may add NetworkPolicies (allow rules on top of the platform's).
TENANT_NETWORK_POLICIES = env_bool("DSO_TENANT_NETWORK_POLICIES", True)
# OIDC group names of the console roles (fields: organization, project, role): sign-in maps groups to roles
# with them, and the generated AppProject roles are bound to the same group names.
OIDC_PROJECT_GROUP_PATTERN = env("DSO_OIDC_PROJECT_GROUP_PATTERN", "dso/{organization}/{project}/{role}")
OIDC_ORGANIZATION_GROUP_PATTERN = env("DSO_OIDC_ORGANIZATION_GROUP_PATTERN", "dso/{organization}/{role}")


def _check_baseline_settings() -> None:
    from provisioning import manifests  # plain Python, no Django

    network = manifests.NetworkSpec(
        ingress_namespaces=NETWORK_INGRESS_NAMESPACES, egress_namespaces=NETWORK_EGRESS_NAMESPACES,
        egress_cidrs=NETWORK_EGRESS_CIDRS, dns_namespace=NETWORK_DNS_NAMESPACE,
    )
    groups = manifests.GroupsSpec(OIDC_PROJECT_GROUP_PATTERN, OIDC_ORGANIZATION_GROUP_PATTERN)
    try:  # a sample project: a typo in a namespace, CIDR or pattern stops the console at start
        manifests.validate(manifests.ProjectSpec("org", "Org", "project", "Project", network=network, groups=groups))
    except manifests.InvalidInput as exc:
        raise ImproperlyConfigured(f"tenant baseline settings (DSO_NETWORK_*, DSO_OIDC_*_GROUP_PATTERN): {exc}")


_check_baseline_settings()
