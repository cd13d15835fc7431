"""External → internal syncs: one request entry point for every trigger, one execution path for workers."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from console.integrations import get_forge, get_mirror
from console.models import Project, RefChange, Repository, RunStatus, SyncRun
from console.permissions import SYNC, has_project_role
from console.services.actors import Actor
from console.services.errors import Conflict, PermissionDenied
from console.services.runs import RunRequest, claim_run, enqueue_next_queued, finish_run, handle_failure, request_run
from provisioning.errors import ProvisioningError
from provisioning.forge.base import GitRemote

log = logging.getLogger(__name__)


def sync_request(
    *, actor: Actor, repository: Repository, trigger: str, check_permission: bool = True
) -> RunRequest:
    """Ask for a sync. Joins a queued one; queues exactly one follow-up behind a running one."""
    if check_permission and not has_project_role(actor.user, repository.project, SYNC):
        raise PermissionDenied("requesting a sync needs the developer role")
    if repository.project.status == Project.Status.ARCHIVED:
        raise Conflict("the project is archived: its repositories are no longer synced")
    from console import tasks

    return request_run(
        run_model=SyncRun, resource_field="repository", resource=repository, actor=actor, trigger=trigger,
        enqueue=tasks.enqueue_sync,
    )


def external_remote(repository: Repository) -> GitRemote:
    """The repository's external URL as an untrusted remote: checked, resolved and pinned before each git
    process, since the URL was typed by a project member (console.network)."""
    from console.network import repository_network_policy

    policy = repository_network_policy()
    # A public repository may still carry a token: the console needs one to push image tag bumps.
    if repository.token:
        return GitRemote(repository.external_url, repository.username or "oauth2", repository.token, network=policy)
    return GitRemote(repository.external_url, network=policy)


def sync_execute(*, run_id: int, task_id: str) -> None:
    run = claim_run(SyncRun, run_id=run_id, task_id=task_id)
    if run is None:
        return
    repository = Repository.objects.select_related("project__organization").get(pk=run.repository_id)
    if repository.project.status == Project.Status.ARCHIVED:
        finish_run(run, status=RunStatus.FAILED, error=ProvisioningError(
            "the project was archived before this sync started; its repositories are no longer synced",
            code="project_archived"))
        _enqueue_next(repository)
        return
    source = external_remote(repository)
    try:
        result = _mirror(repository, source)
    except Exception as error:  # noqa: BLE001 - every failure ends the run with its reason
        log.warning("sync run %s of %s failed: %s", run.pk, repository, getattr(error, "code", type(error)))
        handle_failure(run, error, secrets=(repository.token,))
        _enqueue_next(repository)
        return
    with transaction.atomic():
        RefChange.objects.bulk_create(
            RefChange(sync_run=run, ref=c.ref, old_sha=c.old_sha or "", new_sha=c.new_sha or "", kind=c.kind)
            for c in result.changes
        )
        if result.default_branch and result.default_branch != repository.default_branch:
            Repository.objects.filter(pk=repository.pk).update(default_branch=result.default_branch)
            repository.default_branch = result.default_branch
    _detect_images(repository, run)
    finish_run(
        run,
        status=RunStatus.SUCCEEDED if result.changed else RunStatus.NO_CHANGE,
        head_sha=result.head_sha or "",
    )
    _enqueue_next(repository)


def _mirror(repository: Repository, source: GitRemote):
    from console.services.provisioning import ensure_project_groups

    forge = get_forge()
    # Groups first: a sync may run before the project's provisioning has (both are idempotent).
    ensure_project_groups(repository.project, forge)
    internal = forge.ensure_repository(
        repository.internal_path, description=f"Mirror of {repository.external_url} (managed by DSO Console)"
    )
    if internal.clone_url != repository.internal_url:
        Repository.objects.filter(pk=repository.pk).update(internal_url=internal.clone_url)
    result = get_mirror().sync(
        cache_key=mirror_cache_key(repository), source=source, target=forge.push_remote(repository.internal_path),
        # Called between pushing new refs and pruning old ones, so a renamed default branch can be deleted.
        set_default_branch=lambda branch: forge.set_default_branch(repository.internal_path, branch),
    )
    if result.default_branch and result.default_branch != repository.default_branch and not result.changed:
        # The source switched its default branch without moving a ref: nothing was pushed, so move it here.
        forge.set_default_branch(repository.internal_path, result.default_branch)
    if result.default_branch and result.default_branch != internal.default_branch:
        if hasattr(forge, "protect_for_mirror") and settings.GITLAB_PROTECT_MIRRORS:
            # After the first push, so the branch exists; from then on only the bot may rewrite it.
            forge.protect_for_mirror(repository.internal_path, branches=(result.default_branch,))
    return result


def _detect_images(repository: Repository, run: SyncRun) -> None:
    from console.services.images import images_after_sync

    try:
        images_after_sync(repository=repository, run=run)
    except Exception:  # noqa: BLE001 - detection must never fail a sync that mirrored fine
        log.exception("image detection after sync run %s failed", run.pk)
        SyncRun.objects.filter(pk=run.pk).update(
            image_scan={"error": "image detection failed unexpectedly; the platform team can see the worker log",
                        "code": "internal_error"}
        )
    run.refresh_from_db(fields=["image_scan"])


def mirror_cache_key(repository: Repository) -> str:
    return f"repository-{repository.pk}"


def _enqueue_next(repository: Repository) -> None:
    from console import tasks

    enqueue_next_queued(SyncRun, resource_field="repository", resource=repository, enqueue=tasks.enqueue_sync)
