"""The tenant namespace and the platform's guard rails in it: quota, limits, default-deny network policy."""

from __future__ import annotations

from provisioning import quantities
from provisioning.manifests.names import (
    LIMIT_RANGE_NAME, MANAGED_BY_LABEL, NETWORK_POLICY_NAME, ORGANIZATION_LABEL, PROJECT_LABEL, QUOTA_NAME,
)  # fmt: skip
from provisioning.manifests.spec import ProjectSpec

# Annotation values have no limit of their own, but all of an object's annotations together must stay under
# 256 KiB; the names written there are display names, so a generous cap keeps them whole in practice.
_MAX_ANNOTATION_VALUE = 1024
_NAME_LABEL = "kubernetes.io/metadata.name"


def metadata(spec: ProjectSpec, name: str, namespace: str | None, labels: dict | None = None, **extra):
    """name, namespace, labels (ours plus ``labels``, sorted), then ``extra`` (annotations, finalizers)."""
    meta: dict = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    ours = {MANAGED_BY_LABEL: spec.managed_by, ORGANIZATION_LABEL: spec.organization_slug,
            PROJECT_LABEL: spec.project_slug}  # fmt: skip
    meta["labels"] = dict(sorted({**ours, **(labels or {})}.items()))
    return {**meta, **extra}


def shorten(text: str, limit: int) -> str:
    """``text`` if it fits, else its start and an ellipsis: a description is for people, not for matching."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "\u2026"


def namespace(spec: ProjectSpec, ns: str) -> dict:
    pod_security = {f"pod-security.kubernetes.io/{m}": "restricted" for m in ("enforce", "audit", "warn")}
    pod_security["pod-security.kubernetes.io/enforce-version"] = "latest"
    annotations = {
        "dso.console/organization-name": shorten(spec.organization_name, _MAX_ANNOTATION_VALUE),
        "dso.console/project-name": shorten(spec.project_name, _MAX_ANNOTATION_VALUE),
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(spec, ns, None, labels=pod_security, annotations=annotations),
    }


def resource_quota(spec: ProjectSpec, ns: str) -> dict:
    q = spec.quota
    hard = {
        "limits.cpu": q.cpu_limits,
        "limits.memory": q.memory_limits,
        "persistentvolumeclaims": q.persistent_volume_claims,
        "pods": q.pods,
        "requests.cpu": q.cpu_requests,
        "requests.memory": q.memory_requests,
        "requests.storage": q.requests_storage,
        "services": q.services,
    }
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": metadata(spec, QUOTA_NAME, ns),
        "spec": {"hard": {key: quantities.canonical(value) for key, value in hard.items()}},
    }


def _smallest(*values: str) -> str:
    return quantities.canonical(min(values, key=quantities.parse))


def limit_range(spec: ProjectSpec, ns: str) -> dict:
    # The quota caps limits.* and requests.*, which makes Kubernetes reject pods that omit them; the
    # defaults here fill them in so a plain Deployment still starts. Each value is clamped to what the
    # quota allows, keeping defaultRequest <= default <= max as the API server requires.
    q = spec.quota
    max_cpu = _smallest(q.max_cpu, q.cpu_limits)
    max_memory = _smallest(q.max_memory, q.memory_limits)
    default_cpu = _smallest(q.default_cpu_limit, max_cpu)
    default_memory = _smallest(q.default_memory_limit, max_memory)
    request_cpu = _smallest(q.default_cpu_request, default_cpu, q.cpu_requests)
    request_memory = _smallest(q.default_memory_request, default_memory, q.memory_requests)
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": metadata(spec, LIMIT_RANGE_NAME, ns),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": default_cpu, "memory": default_memory},
                    "defaultRequest": {"cpu": request_cpu, "memory": request_memory},
                    "max": {"cpu": max_cpu, "memory": max_memory},
                }
            ]
        },
    }


def _namespaces(names) -> list[dict]:
    # One peer per namespace, selected by the label the API server sets on every namespace itself
    # (a tenant cannot put it on another namespace to borrow its access).
    return [{"namespaceSelector": {"matchLabels": {_NAME_LABEL: name}}} for name in sorted(set(names))]


def network_policy(spec: ProjectSpec, ns: str) -> dict:
    net = spec.network
    same_namespace = [{"podSelector": {}}]
    ingress = [{"from": same_namespace}]
    if net.ingress_namespaces:
        ingress.append({"from": _namespaces(net.ingress_namespaces)})
    dns = {
        "to": _namespaces([net.dns_namespace]),
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    egress = [{"to": same_namespace}, dns]
    platform = _namespaces(net.egress_namespaces) + [{"ipBlock": {"cidr": c}} for c in sorted(set(net.egress_cidrs))]
    if platform:
        egress.append({"to": platform})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(spec, NETWORK_POLICY_NAME, ns),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }
