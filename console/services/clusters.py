"""Clusters: registration by platform admins, the connection test, and moving a project between clusters.

Which cluster a project is on: its own (``Project.cluster``), else the one marked default, else none (the
embedded default: GitOps delivery configured by settings, exactly as before clusters were registrable).
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from console.authorization import authorize
from console.integrations import get_cluster
from console.models import Cluster, Project, ProvisioningCause, ProvisioningRun
from console.services import run_kinds
from console.services.actors import Actor
from console.services.audit import audit_record, audit_snapshot
from console.services.errors import Conflict
from console.services.runs import RunRequest
from console.services.validation import full_clean_or_raise

EDITABLE_FIELDS = ("name", "api_url", "ca_bundle", "argocd_namespace", "argocd_url", "delivery_mode", "self_heal",
                   "is_default", "insecure_skip_tls_verify")
EMBEDDED = "embedded"


def effective_cluster(project: Project) -> Cluster | None:
    """The cluster the project's objects belong on; None: the embedded default."""
    if project.cluster_id is not None:
        return project.cluster
    return Cluster.objects.filter(is_default=True).first()


def cluster_mode(cluster: Cluster | None) -> str:
    return cluster.delivery_mode if cluster is not None else EMBEDDED


def argocd_namespace_for(cluster: Cluster | None) -> str:
    return cluster.argocd_namespace if cluster is not None else settings.ARGOCD_NAMESPACE


def _save(actor: Actor, cluster: Cluster, *, action: str, before: dict | None) -> Cluster:
    with transaction.atomic():
        if cluster.is_default:
            # One default: marking this one moves the mark (the constraint would refuse a second). Undone
            # with the transaction when validation below refuses the cluster.
            Cluster.objects.select_for_update().filter(is_default=True).exclude(pk=cluster.pk).update(
                is_default=False)
        full_clean_or_raise(cluster)
        cluster.save()
        audit_record(actor=actor, action=action, target=cluster, before=before, after=audit_snapshot(cluster))
    return cluster


def cluster_register(*, actor: Actor, token: str = "", **fields) -> Cluster:
    authorize(actor, "cluster.manage", None)
    cluster = Cluster(**{name: value for name, value in fields.items() if name in EDITABLE_FIELDS}, token=token)
    return _save(actor, cluster, action="cluster.register", before=None)


def cluster_update(*, actor: Actor, cluster: Cluster, token: str | None = None, **fields) -> Cluster:
    """Change the given fields; ``token`` None or empty keeps the stored token (it is write-only)."""
    authorize(actor, "cluster.manage", cluster)
    before = audit_snapshot(cluster)
    for name, value in fields.items():
        if name in EDITABLE_FIELDS:
            setattr(cluster, name, value)
    if token:
        cluster.token = token
    return _save(actor, cluster, action="cluster.update", before=before)


def cluster_remove(*, actor: Actor, cluster: Cluster) -> None:
    authorize(actor, "cluster.manage", cluster)
    if cluster.projects.exists():
        raise Conflict(f"projects are still placed on cluster {cluster.name}: move them first", code="cluster_in_use")
    with transaction.atomic():
        audit_record(actor=actor, action="cluster.remove", target=cluster, before=audit_snapshot(cluster))
        cluster.delete()


def cluster_test_connection(*, actor: Actor, cluster: Cluster) -> dict:
    """Server version, API groups, and the permissions the token lacks (SelfSubjectAccessReviews)."""
    authorize(actor, "cluster.manage", cluster)
    report = get_cluster(cluster).report().as_dict()
    return {"cluster": cluster.name, **report}


def project_move_cluster(*, actor: Actor, project: Project, cluster: Cluster | None) -> RunRequest | None:
    """Place the project on ``cluster`` (None: the platform default). A provisioning run then applies its
    objects there and removes them from where they were; the run's result records both. None when the
    objects stay where they are (only the placement changed, e.g. to the cluster that already was default)."""
    authorize(actor, "project.move_cluster", project)
    if project.status == Project.Status.ARCHIVED:
        raise Conflict("the project is archived")
    before = effective_cluster(project)
    with transaction.atomic():
        Project.objects.filter(pk=project.pk).update(cluster=cluster)
        project.cluster = cluster
        after = effective_cluster(project)
        audit_record(actor=actor, action="project.move_cluster", target=project,
                     before={"cluster": before.name if before else EMBEDDED},
                     after={"cluster": after.name if after else EMBEDDED,
                            "placement": cluster.name if cluster else "platform default"})
        if (before.pk if before else None) == (after.pk if after else None):
            return None
        entry = {
            "cause": ProvisioningCause.CLUSTER_MOVED,
            "subject": f"{before.name if before else EMBEDDED} \u2192 {after.name if after else EMBEDDED}",
            "from_cluster_id": before.pk if before else None,
            "from_mode": cluster_mode(before),
        }
        return run_kinds.run_request(
            "provisioning", resource=project, actor=actor, trigger=_trigger(actor),
            extra={"action": ProvisioningRun.Action.PROVISION, "cause": ProvisioningCause.CLUSTER_MOVED},
            append={"causes": [entry]},
        )


def _trigger(actor: Actor) -> str:
    from console.models import Trigger

    return actor.interface if actor.interface in Trigger.values else Trigger.ADMIN
