"""Read back what runs: one pass over every project, cluster by cluster, in chunks.

Per cluster the pass makes a fixed number of LIST calls with the console's label selector (Applications in
the Argo CD namespace, ResourceQuotas, and in delivery mode ``direct`` each kind the console renders), never
one call per object or per project; projects are read from the database in keyset chunks, never all at
once. A cluster that does not answer is recorded as unreachable (its last known facts stay, marked stale)
and the pass goes on with the next one. For each chunk it stores the Application of each infra repository
(``Deployment``), the quota usage, the drift (console.services.drift) and the bumps' rollouts
(console.services.rollouts).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from console.authorization import authorize
from console.models import Deployment, Project, ProjectObservation, ReadbackPass, Repository, Trigger
from console.services.actors import Actor
from console.services.errors import Conflict
from console.services.provisioning import project_manifest_spec
from console.services.readback_targets import DIRECT, Target, readback_targets
from provisioning import manifests
from provisioning.drift import normalize_live, object_key
from provisioning.errors import ProvisioningError

log = logging.getLogger(__name__)

APPLICATION = (manifests.ARGOCD_API_VERSION, "Application")
MANAGED_SELECTOR = f"{manifests.MANAGED_BY_LABEL}=dso-console"
READBACK_TASK = "dso.readback.pass"


# ------------------------------------------------------------------------------------ one cluster's view


class ClusterView:
    """The LIST answers of one cluster for one pass, each asked once and indexed."""

    def __init__(self, target: Target):
        self.target = target
        self.kube = target.kube()
        self.list_calls = 0
        self.error: ProvisioningError | None = None
        self._lists: dict[tuple, list[dict]] = {}
        self._indexes: dict[tuple, dict] = {}
        self._owned: dict[tuple, dict[tuple[str, str], list[tuple]]] = {}

    @property
    def reachable(self) -> bool:
        return self.kube is not None and self.error is None

    def _list(self, api_version: str, kind: str, namespace: str | None) -> list[dict]:
        key = (api_version, kind, namespace)
        if key not in self._lists:
            self.list_calls += 1
            self._lists[key] = self.kube.list_objects(api_version=api_version, kind=kind, namespace=namespace,
                                                      label_selector=MANAGED_SELECTOR)
        return self._lists[key]

    def start(self) -> None:
        """The lists every pass needs; an unreachable cluster fails here, once."""
        if self.kube is None:
            return
        try:
            self.applications()
            self.quotas()
        except ProvisioningError as error:
            self.error = error
            log.info("cluster %s unreachable: %s", self.target.label, error)

    def applications(self) -> dict[str, dict]:
        key = ("apps",)
        if key not in self._indexes:
            items = self._list(*APPLICATION, self.target.argocd_namespace)
            self._indexes[key] = {(o.get("metadata") or {}).get("name"): o for o in items}
        return self._indexes[key]

    def quotas(self) -> dict[tuple[str, str], dict]:
        key = ("quotas",)
        if key not in self._indexes:
            items = self._list("v1", "ResourceQuota", None)
            self._indexes[key] = {((o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name")): o
                                  for o in items}
        return self._indexes[key]

    def live(self, api_version: str, kind: str, namespace_scope: str | None) -> dict[tuple, dict]:
        """Normalized live objects of a kind (the console's only), by object key; listed once per pass."""
        key = ("live", api_version, kind, namespace_scope)
        if key not in self._indexes:
            index, owned = {}, defaultdict(list)
            for obj in self._list(api_version, kind, namespace_scope):
                normalized = normalize_live(obj)
                ref = object_key(normalized)
                index[ref] = normalized
                labels = (normalized.get("metadata") or {}).get("labels") or {}
                owned[(labels.get(manifests.ORGANIZATION_LABEL), labels.get(manifests.PROJECT_LABEL))].append(ref)
            self._indexes[key], self._owned[key] = index, owned
        return self._indexes[key]

    def owned_by(self, api_version: str, kind: str, namespace_scope: str | None, organization: str,
                 project: str) -> list[tuple]:
        self.live(api_version, kind, namespace_scope)
        return self._owned[("live", api_version, kind, namespace_scope)].get((organization, project), [])

    def report(self, projects: int) -> dict:
        report = {"reachable": self.reachable or self.kube is None, "connected": self.kube is not None,
                  "delivery_mode": self.target.delivery_mode, "list_calls": self.list_calls, "projects": projects}
        if self.error is not None:
            report.update(error_code=self.error.code, error=str(self.error))
        return report


# ------------------------------------------------------------------------------------------- the pass


@dataclass
class Observed:
    """What one project looked like in this pass (handed to drift and rollouts)."""

    project: Project
    repositories: list[Repository]
    desired: list[dict] = field(default_factory=list)
    spec: manifests.ProjectSpec | None = None
    problem: str = ""
    deployments: dict[int, Deployment] = field(default_factory=dict)  # by repository id


def readback_pass(*, trigger: str = Trigger.SCHEDULE, project_ids: list[int] | None = None,
                  targets: list[Target] | None = None) -> ReadbackPass:
    """Read every (or the given) non-archived project back; the pass record says what each cluster did.
    ``targets``: where to look (default: every registered cluster, or the embedded default)."""
    from console.services.drift import DriftPass
    from console.services.rollouts import rollouts_follow

    record = ReadbackPass.objects.create(trigger=trigger)
    drift = DriftPass(record)
    for target in (readback_targets() if targets is None else targets):
        if not _target_projects(target, project_ids).exists():
            continue  # nothing of ours there (or not the project refreshed): no reason to call the cluster
        view = ClusterView(target)
        view.start()
        count = 0
        for chunk in _project_chunks(target, project_ids):
            observed = [_observe(project, target) for project in chunk]
            _store_deployments(observed, target, view)
            _store_observations(observed, target, view)
            drift.check(observed, target, view)
            if view.reachable:
                rollouts_follow(observed)
            count += len(chunk)
        record.clusters[target.label] = view.report(count)
        record.projects += count
    record.drift_open, record.corrections = drift.open_count, drift.corrections
    record.finished_at = timezone.now()
    record.save(update_fields=["clusters", "projects", "drift_open", "corrections", "finished_at"])
    return record


def _target_projects(target: Target, project_ids: list[int] | None):
    projects = Project.objects.filter(target.projects).exclude(status=Project.Status.ARCHIVED)
    if project_ids is not None:
        projects = projects.filter(pk__in=project_ids)
    return projects


def _project_chunks(target: Target, project_ids: list[int] | None):
    """Keyset pages of the target's projects, each with its repositories in one more query."""
    projects = _target_projects(target, project_ids).select_related("organization").order_by("pk")
    size = settings.READBACK_CHUNK_SIZE
    last = 0
    while True:
        chunk = list(projects.filter(pk__gt=last).prefetch_related(
            Prefetch("repositories", queryset=Repository.objects.order_by("name")))[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def _observe(project: Project, target: Target) -> Observed:
    repositories = list(project.repositories.all())
    observed = Observed(project=project, repositories=repositories)
    try:
        observed.spec = project_manifest_spec(project, cluster=target.cluster, repositories=repositories)
        observed.desired = manifests.render_objects(observed.spec)
    except ProvisioningError as error:
        # Registration refuses such values; data stored before it did cannot be compared, only reported.
        observed.problem = f"the project's manifests cannot be rendered: {error}"
    return observed


def application_status(app: dict) -> dict:
    """The read-back fields of an Argo CD Application's status."""
    status = app.get("status") or {}
    sync = status.get("sync") or {}
    health = status.get("health") or {}
    operation = status.get("operationState") or {}
    revision = sync.get("revision") or next(iter(sync.get("revisions") or []), "")
    op_revision = ((operation.get("syncResult") or {}).get("revision")
                   or (((operation.get("operation") or {}).get("sync")) or {}).get("revision") or "")
    return {
        "sync_status": (sync.get("status") or "")[:20],
        "health_status": (health.get("status") or "")[:20],
        "health_message": health.get("message") or "",
        "synced_revision": str(revision)[:64],
        "operation_phase": (operation.get("phase") or "")[:20],
        "operation_message": operation.get("message") or "",
        "operation_revision": str(op_revision)[:64],
        "images": [str(image) for image in ((status.get("summary") or {}).get("images") or [])][:100],
    }


_DEPLOYMENT_FIELDS = ["project", "cluster_name", "application", "argocd_namespace", "argocd_url", "found",
                      "sync_status", "health_status", "health_message", "synced_revision", "operation_phase",
                      "operation_message", "operation_revision", "images", "error_code", "error_message",
                      "observed_at", "checked_at", "changed_at"]


def _store_deployments(observed: list[Observed], target: Target, view: ClusterView) -> None:
    """One Deployment per infra repository: Argo CD's answer, or why the cluster could not give it."""
    now = timezone.now()
    infra = [(o, r) for o in observed for r in o.repositories if r.is_infra]
    existing = Deployment.objects.in_bulk([r.pk for _, r in infra], field_name="repository_id")
    apps = view.applications() if view.reachable else {}
    created, updated = [], []
    for item, repository in infra:
        project = item.project
        deployment = existing.get(repository.pk) or Deployment(repository=repository)
        before = _deployment_values(deployment)
        deployment.project = project
        deployment.cluster_name = target.name
        deployment.application = manifests.application_name_for(project.organization.slug, project.slug,
                                                                 repository.name)
        deployment.argocd_namespace = target.argocd_namespace
        deployment.argocd_url = target.argocd_url
        deployment.checked_at = now
        if view.kube is None:
            deployment.error_code, deployment.error_message = "no_cluster", (
                "no cluster is registered: the console cannot read what runs")
        elif view.error is not None:
            deployment.error_code = view.error.code[:60]
            deployment.error_message = f"cluster {target.name} could not be read: {view.error}"
        else:
            app = apps.get(deployment.application)
            fields = application_status(app) if app is not None else dict.fromkeys(
                ("sync_status", "health_status", "health_message", "synced_revision", "operation_phase",
                 "operation_message", "operation_revision"), "") | {"images": []}
            if (fields["sync_status"], fields["health_status"]) != (deployment.sync_status, deployment.health_status):
                deployment.changed_at = now
            for name, value in fields.items():
                setattr(deployment, name, value)
            deployment.found = app is not None
            deployment.error_code = deployment.error_message = ""
            deployment.observed_at = now
        item.deployments[repository.pk] = deployment
        if deployment.pk is None:
            created.append(deployment)
        elif _deployment_values(deployment) != before:
            updated.append(deployment)
    with transaction.atomic():
        Deployment.objects.bulk_create(created, batch_size=500)
        # Only what changed is rewritten (a steady fleet changes little); every row learns it was checked.
        Deployment.objects.bulk_update(updated, _DEPLOYMENT_FIELDS, batch_size=500)
        Deployment.objects.filter(pk__in=[d.pk for d in existing.values()]).update(
            checked_at=now, **({"observed_at": now} if view.reachable else {}))


_COMPARED_FIELDS = [name for name in _DEPLOYMENT_FIELDS if name not in ("checked_at", "observed_at", "project")]


def _deployment_values(deployment: Deployment) -> tuple:
    """What a pass may change, without the times every pass sets (written in one UPDATE instead)."""
    return tuple(getattr(deployment, name) for name in _COMPARED_FIELDS)


def _quota_name(desired: list[dict]) -> str | None:
    return next((o["metadata"]["name"] for o in desired if o.get("kind") == "ResourceQuota"), None)


def _store_observations(observed: list[Observed], target: Target, view: ClusterView) -> None:
    now = timezone.now()
    quotas = view.quotas() if view.reachable else {}
    rows = []
    for item in observed:
        row = ProjectObservation(project=item.project, cluster_name=target.name, delivery_mode=target.delivery_mode,
                                 checked_at=now, error_code="", error_message="")
        if view.error is not None:
            row.error_code, row.error_message = view.error.code[:60], f"cluster {target.name} could not be read: {view.error}"
        elif item.problem:
            row.error_code, row.error_message = "invalid_manifest", item.problem
        if view.reachable and (name := _quota_name(item.desired)):
            namespace = next(o["metadata"]["name"] for o in item.desired if o.get("kind") == "Namespace")
            quota = quotas.get((namespace, name))
            status = (quota or {}).get("status") or {}
            row.quota_hard, row.quota_used = status.get("hard") or {}, status.get("used") or {}
            row.quota_observed_at = now
        rows.append(row)
    # Quota figures of an unreachable cluster stay as last read (with their time); the error says why.
    update = ["cluster_name", "delivery_mode", "checked_at", "error_code", "error_message"]
    if view.reachable:
        update += ["quota_hard", "quota_used", "quota_observed_at"]
    ProjectObservation.objects.bulk_create(rows, batch_size=500, update_conflicts=True, unique_fields=["project"],
                                           update_fields=update)


# --------------------------------------------------------------------------------------------- refresh


def readback_refresh_request(*, actor: Actor, project: Project, trigger: str = Trigger.PORTAL) -> None:
    """Read the project back now (the portal button and the API): the pass's work for this one project,
    done by a worker; the page shows the result when it lands."""
    authorize(actor, "project.refresh", project)
    if project.status == Project.Status.ARCHIVED:
        raise Conflict("the project is archived: nothing of it runs any more")
    from console.services.audit import audit_record

    with transaction.atomic():
        audit_record(actor=actor, action="project.refresh", target=project, after={})
        transaction.on_commit(lambda: _enqueue_refresh(project.pk, trigger), robust=True)


def _enqueue_refresh(project_id: int, trigger: str) -> None:
    from console.celery import app

    app.signature("dso.readback.project", args=[project_id, trigger]).apply_async()


def readback_project(*, project_id: int, trigger: str = Trigger.PORTAL) -> ReadbackPass | None:
    """The task of an on-demand refresh: a pass limited to one project; a missing project ends quietly."""
    if not Project.objects.filter(pk=project_id).exists():
        return None
    return readback_pass(trigger=trigger, project_ids=[project_id])
