"""Delivery mode ``direct``: a provisioning run applies the project's objects to its cluster with the
kubernetes client (server-side apply, nothing written when nothing changed) and prunes what the console
no longer renders; archiving and moving a project remove them. Objects without the console's labels for
the project are never listed, so never touched.

Removals run in reverse dependency order: Applications, then the AppProject, then (only when asked) the
namespace, whose deletion takes every object in it along.
"""

from __future__ import annotations

import logging

from console.integrations import get_cluster, get_delivery
from console.models import Cluster, Project, ProvisioningCause, ProvisioningRun
from provisioning import manifests
from provisioning.cluster import ObjectRef

log = logging.getLogger(__name__)

ARGO_KINDS = [(manifests.ARGOCD_API_VERSION, "Application"), (manifests.ARGOCD_API_VERSION, "AppProject")]
NAMESPACE_KIND = [("v1", "Namespace")]


def project_selector(project: Project) -> str:
    return (f"{manifests.MANAGED_BY_LABEL}=dso-console,{manifests.ORGANIZATION_LABEL}={project.organization.slug},"
            f"{manifests.PROJECT_LABEL}={project.slug}")


def _kinds(objects: list[dict]) -> list[tuple[str, str]]:
    """Every kind the console renders for a project (Applications first, the Namespace last), so a kind no
    longer rendered at all is still pruned."""
    kinds = list(ARGO_KINDS)
    for obj in objects:
        kind = (obj["apiVersion"], obj["kind"])
        if kind not in kinds and kind != NAMESPACE_KIND[0]:
            kinds.append(kind)
    return kinds


def apply_project(project: Project, cluster: Cluster, objects: list[dict]) -> dict:
    kube = get_cluster(cluster)
    applied = kube.apply(objects)
    pruned = kube.prune(label_selector=project_selector(project), keep={ObjectRef.of(o) for o in objects},
                        kinds=_kinds(objects))
    return {
        "cluster": cluster.name,
        "mode": "direct",
        "changed": applied.changed or bool(pruned),
        "objects": applied.as_dict(),  # created / configured / unchanged on the cluster
        "pruned": [str(ref) for ref in pruned],
    }


def remove_project(project: Project, cluster: Cluster, *, include_namespace: bool) -> list[str]:
    kube = get_cluster(cluster)
    selector = project_selector(project)
    removed = kube.prune(label_selector=selector, keep=set(), kinds=ARGO_KINDS)
    if include_namespace:
        removed += kube.prune(label_selector=selector, keep=set(), kinds=NAMESPACE_KIND)
    return [str(ref) for ref in removed]


def cluster_moves(run: ProvisioningRun) -> list[dict]:
    return [entry for entry in run.causes or [] if entry.get("cause") == ProvisioningCause.CLUSTER_MOVED]


def remove_from_previous(project: Project, run: ProvisioningRun, current: Cluster | None, directory: str,
                         message: str) -> list[dict]:
    """For each move the run serves: take the project off the cluster it left. A direct cluster loses the
    project's objects, namespace included (the project lives elsewhere now); leaving GitOps for a direct
    cluster removes its directory from the platform repository, so that Argo CD prunes them."""
    removals = []
    for move in cluster_moves(run):
        previous_id, previous_mode = move.get("from_cluster_id"), move.get("from_mode")
        if current is not None and previous_id == current.pk:
            continue  # moved away and back before the run started: nothing to remove
        if previous_mode == "direct":
            previous = Cluster.objects.filter(pk=previous_id).first()
            if previous is None:
                removals.append({"cluster_id": previous_id, "skipped": "the cluster is no longer registered"})
                continue
            removals.append({"cluster": previous.name,
                             "deleted": remove_project(project, previous, include_namespace=True)})
        elif current is not None and current.is_direct:
            delivery = get_delivery().remove(directory, message=message)
            removals.append({"platform_repository": directory, "commit": delivery.commit_sha,
                             "removed": list(delivery.removed)})
        else:
            # GitOps to GitOps: the same platform repository holds the project; nothing to take away.
            removals.append({"from": move.get("subject", ""), "platform_repository": "unchanged"})
    return removals
