"""Where the read-back pass looks: each registered cluster with the projects placed on it, or the embedded
default (no cluster registered: nothing to read from a cluster, the platform repository is still compared)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q

GITOPS, DIRECT = "gitops", "direct"


@dataclass
class Target:
    name: str  # the cluster's name; "" for the embedded default
    projects: Q  # which projects live there
    cluster: Any = None  # console.models.clusters.Cluster, or None
    delivery_mode: str = GITOPS
    self_heal: bool = False
    argocd_namespace: str = "argocd"
    argocd_url: str = ""
    config: Any = None  # a provisioning.cluster.ClusterConfig, for a target not stored as a Cluster row

    @property
    def label(self) -> str:
        return self.name or "embedded"

    def kube(self):
        """The cluster adapter (provisioning.cluster.KubeCluster), or None for the embedded default."""
        if self.cluster is not None:
            from console.integrations import get_cluster

            return get_cluster(self.cluster)
        if self.config is not None:
            from provisioning.cluster import KubeCluster

            return KubeCluster(self.config)
        return None


def readback_targets() -> list[Target]:
    from console.models.clusters import Cluster

    clusters = list(Cluster.objects.order_by("name"))
    targets = []
    has_default = any(c.is_default for c in clusters)
    for cluster in clusters:
        placed = Q(cluster=cluster)
        if cluster.is_default:
            placed |= Q(cluster__isnull=True)
        targets.append(Target(
            name=cluster.name, projects=placed, cluster=cluster, delivery_mode=cluster.delivery_mode,
            self_heal=cluster.self_heal, argocd_namespace=cluster.argocd_namespace or settings.ARGOCD_NAMESPACE,
            argocd_url=(cluster.argocd_url or "").rstrip("/"),
        ))
    if not has_default:
        targets.append(Target(name="", projects=Q(cluster__isnull=True), argocd_namespace=settings.ARGOCD_NAMESPACE,
                              argocd_url=settings.ARGOCD_URL))
    return targets
