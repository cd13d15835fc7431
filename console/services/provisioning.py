"""Worker side of project provisioning: forge groups, rendered manifests, GitOps delivery."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from console.integrations import get_delivery, get_forge, get_mirror, platform_repository_path
from console.models import Project, ProvisioningCause, ProvisioningRun, Repository, RunStatus
from console.services import cluster_delivery, run_kinds
from console.services.clusters import argocd_namespace_for, effective_cluster
from console.services.runs import claim_run, finish_run, handle_failure
from provisioning import manifests, render_cache
from provisioning.forge.base import GitRemote

log = logging.getLogger(__name__)


def project_forge_group(project: Project) -> str:
    return get_forge().group_path_for(project.organization.slug, project.slug)


def repository_forge_path(repository: Repository) -> str:
    return get_forge().group_path_for(repository.project.organization.slug, repository.project.slug, repository.name)


def delivery_directory(project: Project) -> str:
    return f"projects/{project.organization.slug}/{project.slug}"


def project_manifest_spec(project: Project, *, cluster=False,
                          repositories: list[Repository] | None = None) -> manifests.ProjectSpec:
    """What the cluster should hold for the project, from what the database says now. ``cluster``: the
    project's effective cluster when the caller has it already (None: the embedded default).
    ``repositories``: the project's, already read (the read-back pass reads them for a chunk of projects)."""
    if cluster is False:
        cluster = effective_cluster(project)
    if repositories is None:
        repositories = list(project.repositories.order_by("name"))
    source_repos = tuple(sorted({forge_clone_url(r) for r in repositories}))
    infra_apps = tuple(
        manifests.InfraAppSpec(
            name=r.name,
            repo_url=forge_clone_url(r),
            kind=r.deploy_kind,
            path=r.deploy_path or ".",
            revision=r.deploy_revision or "HEAD",
            value_files=tuple(r.helm_value_files or ()),
        )
        for r in repositories
        if r.is_infra
    )
    return manifests.ProjectSpec(
        quota=project_quota_spec(project),
        network=platform_network_spec(),
        groups=manifests.GroupsSpec(project_pattern=settings.OIDC_PROJECT_GROUP_PATTERN,
                                    organization_pattern=settings.OIDC_ORGANIZATION_GROUP_PATTERN),
        organization_slug=project.organization.slug,
        organization_name=project.organization.name,
        project_slug=project.slug,
        project_name=project.name,
        description=project.description,
        source_repos=source_repos,
        infra_apps=infra_apps,
        destination_server=settings.DESTINATION_SERVER,
        argocd_namespace=argocd_namespace_for(cluster),
        reserved_namespaces=settings.RESERVED_NAMESPACES,
    )


def project_quota_spec(project: Project) -> manifests.QuotaSpec:
    # One amount caps requests and limits alike: what a team asks for is what its pods may use.
    return manifests.QuotaSpec(
        cpu_requests=project.quota_cpu, cpu_limits=project.quota_cpu,
        memory_requests=project.quota_memory, memory_limits=project.quota_memory,
        requests_storage=project.quota_storage, pods=str(project.quota_pods), services=str(project.quota_services),
    )


def platform_network_spec() -> manifests.NetworkSpec:
    return manifests.NetworkSpec(
        ingress_namespaces=settings.NETWORK_INGRESS_NAMESPACES, egress_namespaces=settings.NETWORK_EGRESS_NAMESPACES,
        egress_cidrs=settings.NETWORK_EGRESS_CIDRS, dns_namespace=settings.NETWORK_DNS_NAMESPACE,
        tenant_policies=settings.TENANT_NETWORK_POLICIES,
    )


def forge_clone_url(repository: Repository) -> str:
    """The internal URL Argo CD clones; known before the repository exists in the forge."""
    if repository.internal_url:
        return repository.internal_url
    return get_forge().clone_url(repository_forge_path(repository))


def project_render_yaml(project: Project) -> str:
    return manifests.render_yaml(project_manifest_spec(project))


def provisioning_execute(*, run_id: int, task_id: str) -> None:
    run = claim_run(ProvisioningRun, run_id=run_id, task_id=task_id)
    if run is None:
        return
    project = Project.objects.select_related("organization").get(pk=run.project_id)
    forge = get_forge()
    try:
        if run.action == ProvisioningRun.Action.ARCHIVE:
            result = _archive(project, forge, run)
        else:
            result = _provision(project, forge, run)
    except Exception as error:  # noqa: BLE001 - every failure ends the run with its reason
        log.exception("provisioning run %s failed", run.pk)
        handle_failure(run, error)
        if run.status == RunStatus.FAILED and run.action == ProvisioningRun.Action.PROVISION:
            Project.objects.filter(pk=project.pk).exclude(status=Project.Status.ARCHIVED).update(
                status=Project.Status.FAILED
            )
        if run.status == RunStatus.FAILED:
            from console.services.notifications import notify_safely

            notify_safely(project=project, event="provisioning_failed",
                          payload={"run": run.pk, "action": run.action, "code": run.error_code,
                                   "message": run.error_message})
        run_kinds.enqueue_next("provisioning", project)
        return
    with transaction.atomic():
        status = RunStatus.SUCCEEDED if result["changed"] else RunStatus.NO_CHANGE
        if finish_run(run, status=status, result=result):
            new_status = (
                Project.Status.ARCHIVED if run.action == ProvisioningRun.Action.ARCHIVE else Project.Status.READY
            )
            Project.objects.filter(pk=project.pk).update(status=new_status)
    run_kinds.enqueue_next("provisioning", project)


def ensure_project_groups(project: Project, forge) -> list[str]:
    """The organization's and the project's forge groups; returns the paths this call created."""
    groups = [
        forge.ensure_group(forge.group_path_for(project.organization.slug), name=project.organization.name),
        forge.ensure_group(project_forge_group(project), name=project.name, description=project.description),
    ]
    group_id = groups[-1].id
    if group_id is not None and group_id != project.forge_group_id:
        # Kept so a first sync creates its mirror in the group without checking the group path again.
        Project.objects.filter(pk=project.pk).update(forge_group_id=group_id)
        project.forge_group_id = group_id
    return [group.path for group in groups if group.created]


def commit_message(project: Project, run: ProvisioningRun, verb: str) -> str:
    """The GitOps commit says why: every cause the run serves, then which run and who asked."""
    subject = f"{verb} {project.full_slug}: {run.cause_summary or run.get_cause_display()}"
    requested = run.trigger_detail.get("by") or (run.actor.get_username() if run.actor_id else "")
    body = f"{_run_mark(run)}{run.get_trigger_display()}{f', {requested}' if requested else ''})."
    if run.joined_requests:
        body += f" {run.joined_requests} more request{'s' if run.joined_requests > 1 else ''} joined it."
    return f"{subject}\n\n{body}\n"


def retired_path(internal_path: str, repository_id: int) -> str:
    return f"{internal_path}-removed-{repository_id}"


def _retire_removed(run: ProvisioningRun, forge) -> list[str]:
    """Archive the internal mirrors of repositories removed since the last run, moved aside so their name
    can be registered again; the history stays readable in the forge."""
    from console.services.syncs import mirror_cache_key

    retired = []
    for entry in run.causes or []:
        if entry.get("cause") != ProvisioningCause.REPOSITORY_REMOVED or not entry.get("internal_path"):
            continue
        new_path = forge.retire_repository(entry["internal_path"],
                                           new_path=retired_path(entry["internal_path"], entry["repository_id"]))
        # The row is gone; the key needs only its id.
        get_mirror().remove_cache(mirror_cache_key(Repository(pk=entry["repository_id"])))
        if new_path:
            retired.append(new_path)
    return retired


def _provision(project: Project, forge, run: ProvisioningRun) -> dict:
    created = ensure_project_groups(project, forge)
    retired = _retire_removed(run, forge)
    cluster = effective_cluster(project)
    spec = project_manifest_spec(project, cluster=cluster)
    if cluster is not None and cluster.is_direct:
        deploy_token_created = _ensure_argocd_credentials(project, forge)
        result = _provision_direct(project, run, cluster, spec, created)
    else:
        result, deploy_token_created = _provision_gitops(project, forge, run, spec, created)
    if cluster is not None:
        result["cluster"] = cluster.name
    removals = cluster_delivery.remove_from_previous(
        project, run, cluster, delivery_directory(project), commit_message(project, run, "Move"))
    if removals:
        result["removed_from_previous"] = removals
        result["changed"] = True
    if deploy_token_created:
        result["created"].append(f"deploy token {deploy_token_created}")
        result["changed"] = True
    if retired:
        result["retired_repositories"] = retired
        result["changed"] = True
    return result


def _provision_direct(project: Project, run: ProvisioningRun, cluster, spec, created: list[str]) -> dict:
    applied = cluster_delivery.apply_project(project, cluster, manifests.render_objects(spec))
    return {**applied, "changed": bool(created) or applied["changed"], "created": created}


def _provision_gitops(project: Project, forge, run: ProvisioningRun, spec, created: list[str]) -> tuple[dict, str | None]:
    platform_path = platform_repository_path()
    forge.ensure_group(platform_path.rsplit("/", 1)[0], name="Platform")
    platform = forge.ensure_repository(platform_path, description="GitOps manifests written by DSO Console")
    deploy_token_created = _ensure_argocd_credentials(project, forge)
    gitops = get_delivery()
    fingerprint = render_cache.spec_fingerprint(spec, directory=delivery_directory(project),
                                                repository=platform_path)
    if fingerprint == project.manifests_fingerprint and not _redeliver_asked(run):
        # Same inputs, same renderer: the same bytes as last delivered. A manual or admin re-provision
        # always renders and delivers, which repairs a GitOps folder someone edited by hand.
        delivery, delivered_before = None, False
    else:
        delivery = gitops.deliver(
            delivery_directory(project),
            manifests.render_files(spec),
            message=commit_message(project, run, "Provision"),
        )
        # A redo after a killed attempt finds that attempt's commit in place: the change is still this run's.
        delivered_before = (not delivery.changed and run.attempts > 1
                            and _run_mark(run) in gitops.last_message(delivery_directory(project)))
        Project.objects.filter(pk=project.pk).update(manifests_fingerprint=fingerprint)
    if platform.created:
        created.append(platform.path)
    if delivery is None:
        result = {"changed": bool(created), "created": created, "commit": "",
                  "added": [], "modified": [], "removed": [], "manifests_unchanged": True}
    else:
        result = {
            "changed": bool(created) or delivery.changed or delivered_before,
            "created": created,
            "commit": delivery.commit_sha,
            "added": list(delivery.added),
            "modified": list(delivery.modified),
            "removed": list(delivery.removed),
        }
    if delivered_before:
        result["delivered_by_earlier_attempt"] = True
    return result, deploy_token_created


def _redeliver_asked(run: ProvisioningRun) -> bool:
    # Drift means the delivered files no longer are what was rendered: the fingerprint cannot tell.
    asked = {ProvisioningCause.MANUAL, ProvisioningCause.ADMIN, ProvisioningCause.DRIFT_CORRECTION,
             ProvisioningCause.CLUSTER_MOVED}
    return run.cause in asked or any(entry.get("cause") in asked for entry in run.causes or [])


def _run_mark(run: ProvisioningRun) -> str:
    return f"Provisioning run #{run.pk} ("


def _ensure_argocd_credentials(project: Project, forge) -> str | None:
    """A read-only deploy token for the project's group, created once (GitLab shows its secret only then) and
    kept while GitLab lists it as active; replaced only when GitLab no longer does (revoked, expired)."""
    if not hasattr(forge, "ensure_deploy_token"):
        return None
    stored = GitRemote("", project.argocd_username, project.argocd_token) if project.argocd_token else None
    remote = forge.read_remote(project_forge_group(project), stored=stored, name="argocd")
    if stored is not None and (remote.username, remote.password) == (stored.username, stored.password):
        return None
    project.argocd_username, project.argocd_token = remote.username or "", remote.password or ""
    project.save(update_fields=["argocd_username", "argocd_token"])
    return project.argocd_username


def project_argocd_credentials(project: Project) -> dict:
    """What an admin gives Argo CD so it can clone the project's internal repositories."""
    if settings.FORGE_KIND == "local":
        return {"url_prefix": f"{settings.LOCAL_FORGE_URL}/{project_forge_group(project)}/", "username": "argocd",
                "password": settings.LOCAL_FORGE_READ_TOKEN, "kind": "local forge read token"}
    return {"url_prefix": get_forge().clone_url(project_forge_group(project)).removesuffix(".git") + "/",
            "username": project.argocd_username, "password": project.argocd_token,
            "kind": "GitLab deploy token (read_repository)"}


def _archive(project: Project, forge, run: ProvisioningRun) -> dict:
    retired = _retire_removed(run, forge)
    cluster = effective_cluster(project)
    if cluster is not None and cluster.is_direct:
        # The namespace (and the workloads in it) goes only when the archive request confirmed it.
        delete_namespace = any(entry.get("delete_namespace") for entry in run.causes or []
                               if entry.get("cause") == ProvisioningCause.PROJECT_ARCHIVED)
        deleted = cluster_delivery.remove_project(project, cluster, include_namespace=delete_namespace)
        result = {"cluster": cluster.name, "mode": "direct", "deleted": deleted,
                  "namespace_kept": not delete_namespace}
        changed = bool(deleted)
    else:
        delivery = get_delivery().remove(delivery_directory(project), message=commit_message(project, run, "Archive"))
        Project.objects.filter(pk=project.pk).update(manifests_fingerprint="")  # nothing delivered any more
        result = {"commit": delivery.commit_sha, "removed": list(delivery.removed)}
        if cluster is not None:
            result["cluster"] = cluster.name
        changed = delivery.changed
    archived = [*retired]
    for repository in project.repositories.exclude(internal_path=""):
        forge.archive_repository(repository.internal_path)
        archived.append(repository.internal_path)
    return {"changed": changed or bool(archived), **result, "archived_repositories": archived}
