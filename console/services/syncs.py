"""External → internal syncs: one request entry point for every trigger, one execution path for workers."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from console.authorization import authorize
from console.integrations import get_forge, get_mirror
from console.models import Project, RefChange, Repository, RunStatus, SyncRun
from console.models.runs import ImageScanStatus
from console.services.actors import Actor
from console.services.errors import Conflict
from console.services import run_kinds
from console.services.runs import RunRequest, claim_run, finish_run, handle_failure
from provisioning.errors import NotFound, ProvisioningError
from provisioning.forge.base import ForgeRepository, GitRemote

log = logging.getLogger(__name__)


def sync_request(*, actor: Actor, repository: Repository, trigger: str) -> RunRequest:
    """Ask for a sync. Joins a queued one; queues exactly one follow-up behind a running one."""
    authorize(actor, "repository.sync", repository)
    if repository.project.status == Project.Status.ARCHIVED:
        raise Conflict(_("the project is archived: its repositories are no longer synced"))
    return run_kinds.run_request("sync", resource=repository, actor=actor, trigger=trigger)


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
        run_kinds.enqueue_next("sync", repository)
        return
    source = external_remote(repository)
    snapshot = _recorded_snapshot(repository)
    recorded = snapshot if snapshot is not None else _replayed_refs(repository)
    try:
        result = _mirror(repository, source, recorded)
    except Exception as error:  # noqa: BLE001 - every failure ends the run with its reason
        log.warning("sync run %s of %s failed: %s", run.pk, repository, getattr(error, "code", type(error)))
        handle_failure(run, error, secrets=(repository.token,))
        if run.status == RunStatus.FAILED:
            _after_run(repository, failed=True)
            from console.services.notifications import notify_safely

            notify_safely(project=repository.project_id, event="sync_failed",
                          payload={"repository": repository.name, "run": run.pk, "trigger": run.trigger,
                                   "code": run.error_code, "message": run.error_message})
        run_kinds.enqueue_next("sync", repository)
        return
    # Nothing to write, and no earlier attempt wrote anything: the run's ownership is checked when it finishes.
    if (result.changes or run.attempts > 1) and not _record_ref_changes(run, result.changes):
        return  # the sweeper gave this run to another worker, which records and finishes it
    if result.default_branch and result.default_branch != repository.default_branch:
        # One statement, atomic by itself: wrapped in a transaction it cost every sync an empty BEGIN/COMMIT.
        Repository.objects.filter(pk=repository.pk).update(default_branch=result.default_branch)
        repository.default_branch = result.default_branch
    _detect_images(repository, run)
    # The refs are kept when they differ from the last snapshot (or there is none yet), so the next sync
    # reports its changes against them.
    keep = {"refs": result.refs} if result.changed or snapshot is None else {}
    if not finish_run(
        run,
        status=RunStatus.SUCCEEDED if result.changed else RunStatus.NO_CHANGE,
        head_sha=result.head_sha or "",
        **keep,
    ):
        return  # handed to another worker meanwhile: it finishes the run and starts the one behind it
    _after_run(repository, failed=False)
    run_kinds.enqueue_next("sync", repository)


def _after_run(repository: Repository, *, failed: bool) -> None:
    """The schedule counts from the end of every sync (a manual one too) and backs off while they fail."""
    from console.services.schedules import sync_schedule_after_run

    sync_schedule_after_run(repository_id=repository.pk, failed=failed)


def _recorded_snapshot(repository: Repository) -> dict[str, str] | None:
    """The internal repository's refs as the console recorded them after its last successful sync."""
    return (
        SyncRun.objects.filter(repository=repository, status__in=(RunStatus.SUCCEEDED, RunStatus.NO_CHANGE),
                               refs__isnull=False)
        .order_by("-finished_at", "-id").values_list("refs", flat=True).first()
    )


def _replayed_refs(repository: Repository) -> dict[str, str]:
    """The same state rebuilt from the recorded ref changes, for history older than the snapshots (and
    empty before the first successful sync): needed once, after which the run keeps a snapshot."""
    state: dict[str, str] = {}
    changes = (
        RefChange.objects.filter(sync_run__repository=repository, sync_run__status=RunStatus.SUCCEEDED)
        .order_by("sync_run__finished_at", "sync_run_id", "id").values_list("ref", "new_sha")
    )
    for ref, new_sha in changes:
        if new_sha:
            state[ref] = new_sha
        else:
            state.pop(ref, None)
    return state


def _record_ref_changes(run: SyncRun, changes) -> bool:
    """Write this attempt's ref changes while it still owns the run; False when it no longer does.

    An earlier attempt of the same run may have recorded them before its worker died: they are replaced,
    since every attempt computes them against the same recorded base, so each change is kept exactly once.
    """
    with transaction.atomic():
        owned = SyncRun.objects.select_for_update().filter(
            pk=run.pk, status=RunStatus.RUNNING, task_id=run.task_id).exists()
        if not owned:
            log.warning("%s was handed to another task before %s recorded its changes", run, run.task_id)
            return False
        if run.attempts > 1:
            RefChange.objects.filter(sync_run=run).delete()
        RefChange.objects.bulk_create(
            RefChange(sync_run=run, ref=c.ref, old_sha=c.old_sha or "", new_sha=c.new_sha or "", kind=c.kind)
            for c in changes
        )
    return True


def _mirror(repository: Repository, source: GitRemote, recorded: dict[str, str] | None):
    forge = get_forge()
    internal = _internal_repository(repository, forge)
    result = get_mirror().sync(
        cache_key=mirror_cache_key(repository), source=source, target=forge.push_remote_for(internal),
        # Called between pushing new refs and pruning old ones, so a renamed default branch can be deleted.
        set_default_branch=lambda branch: forge.set_default_branch(repository.internal_path, branch),
        recorded_refs=recorded,
    )
    if result.default_branch and result.default_branch != repository.default_branch and not result.pushed:
        # The source switched its default branch without moving a ref: nothing was pushed, so move it here.
        forge.set_default_branch(repository.internal_path, result.default_branch)
    if result.default_branch and result.default_branch != internal.default_branch:
        if hasattr(forge, "protect_for_mirror") and settings.GITLAB_PROTECT_MIRRORS:
            # After the first push, so the branch exists; from then on only the bot may rewrite it.
            forge.protect_for_mirror(repository.internal_path, branches=(result.default_branch,))
    return result


def _internal_repository(repository: Repository, forge) -> ForgeRepository:
    """The mirror in the internal forge: one request by the id stored when it was first ensured; ensured by
    path (with its groups) when the id is not known yet, or the forge no longer has that id at that path."""
    if repository.forge_id is not None:
        known = forge.find_repository_by_id(repository.forge_id)
        if known is not None and known.path == repository.internal_path:
            _remember(repository, known)
            return known
    from console.services.provisioning import ensure_project_groups

    description = f"Mirror of {repository.external_url} (managed by DSO Console)"
    if repository.project.forge_group_id is None:
        # Groups first: a sync may run before the project's provisioning has (both are idempotent).
        ensure_project_groups(repository.project, forge)
    try:
        internal = forge.ensure_repository(repository.internal_path, description=description)
    except NotFound:
        # The provisioned group was removed from the forge meanwhile: put it back, then the mirror.
        ensure_project_groups(repository.project, forge)
        internal = forge.ensure_repository(repository.internal_path, description=description)
    _remember(repository, internal)
    return internal


def _remember(repository: Repository, internal: ForgeRepository) -> None:
    changed = {name: value for name, value in (("internal_url", internal.clone_url), ("forge_id", internal.id))
               if value is not None and getattr(repository, name) != value}
    if changed:
        Repository.objects.filter(pk=repository.pk).update(**changed)
        for name, value in changed.items():
            setattr(repository, name, value)


def _detect_images(repository: Repository, run: SyncRun) -> None:
    from console.services.images import images_after_sync

    try:
        images_after_sync(repository=repository, run=run)
    except Exception as error:
        # Its transaction rolled back, so the repository's scanned-up-to marker did not move: the next sync
        # scans the same commits again.
        log.exception("image detection after sync run %s failed", run.pk)
        run.image_scan = {"error": f"image detection failed unexpectedly ({type(error).__name__}); the platform "
                                   "team can see the worker log", "code": "internal_error"}
        run.image_scan_status = ImageScanStatus.FAILED
        SyncRun.objects.filter(pk=run.pk).update(image_scan=run.image_scan, image_scan_status=run.image_scan_status)


def mirror_cache_key(repository: Repository) -> str:
    return f"repository-{repository.pk}"

