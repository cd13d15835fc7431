"""Bump an image tag at the infra repository's external source (the source of truth), then sync it."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from console.authorization import authorize
from console.models import Project, Repository, RunStatus, Trigger
from console.models.images import ImageBump
from console.models.validators import validate_image_tag
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import Conflict, DomainError
from console.services import run_kinds
from console.services.runs import RetryLater, claim_run, finish_run, handle_failure
from provisioning import image_tags
from provisioning.errors import ProvisioningError

log = logging.getLogger(__name__)


def image_tag_bump_request(
    *, actor: Actor, repository: Repository, image: str, tag: str, file: str = "", location: str = "",
    reason: str = "", trigger: str = Trigger.API,
) -> ImageBump:
    authorize(actor, "repository.bump", repository)
    if not repository.is_infra:
        raise DomainError({"repository": [_("image tags are bumped in infra repositories only")]},
                          code="not_infra")
    if repository.project.status == Project.Status.ARCHIVED:
        raise Conflict(_("the project is archived"))
    if not repository.token:
        raise DomainError(
            {"token": [_("the console needs the repository's write token to push a bump to its source")]},
            code="no_write_credentials",
        )
    bump = ImageBump(
        repository=repository, image=image.strip(), tag=tag.strip(), file=file.strip(), location=location.strip(),
        reason=reason.strip()[:500], trigger=trigger,
        actor=actor.user if actor.user is not None and actor.user.pk else None,
        trigger_detail={"by": actor.label, "interface": actor.interface, **actor.detail},
    )
    errors = {}
    if not bump.image:
        errors["image"] = ["which image to bump, e.g. registry.example.com/team/app"]
    try:
        validate_image_tag(bump.tag)
    except ValidationError as exc:
        errors["tag"] = exc.messages
    if errors:
        raise DomainError(errors)
    from console.services.pins import pin_check

    # A rollback's pin holds against every bump to another tag: CI, the registry watch and people alike.
    pin_check(repository=repository, image=bump.image, tag=bump.tag)
    with transaction.atomic():
        bump.save()
        audit_record(actor=actor, action="image.bump_request", target=repository,
                     after={"image": bump.image, "tag": bump.tag, "file": bump.file, "location": bump.location,
                            "reason": bump.reason, "bump": bump.pk})
        transaction.on_commit(lambda: run_kinds.enqueue("image_bump", bump.pk))
    return bump


def bump_branch(repository: Repository) -> str:
    revision = repository.deploy_revision or "HEAD"
    if revision == "HEAD" or len(revision) == 40:
        return repository.default_branch or "main"
    return revision.removeprefix("refs/heads/")


def image_bump_execute(*, run_id: int, task_id: str) -> None:
    bump = claim_run(ImageBump, run_id=run_id, task_id=task_id)
    if bump is None:
        return
    repository = Repository.objects.select_related("project__organization").get(pk=bump.repository_id)
    try:
        _bump(bump, repository)
    except RetryLater:
        raise
    except Exception as error:  # noqa: BLE001 - every failure ends the bump with its reason, never "running"
        log.info("image bump %s failed: %s", bump.pk, getattr(error, "code", type(error).__name__))
        if isinstance(error, DomainError):
            error = ProvisioningError(str(error.message), code=error.code)
        handle_failure(bump, error, secrets=(repository.token,))
        if bump.status == RunStatus.FAILED:
            from console.services.notifications import notify_safely

            notify_safely(project=repository.project_id, event="bump_failed",
                          payload={"repository": repository.name, "bump": bump.pk, "image": bump.image,
                                   "tag": bump.tag, "code": bump.error_code, "message": bump.error_message})
    run_kinds.enqueue_next("image_bump", repository)


def _bump(bump: ImageBump, repository: Repository) -> None:
    from console.integrations import get_mirror
    from console.services.images import deploy_config
    from console.services.syncs import external_remote, mirror_cache_key, sync_request

    if repository.project.status == Project.Status.ARCHIVED:
        raise ProvisioningError("the project was archived before this bump started; nothing was pushed",
                                code="project_archived")
    from console.services.pins import active_pin

    pin = active_pin(repository=repository, image=bump.image)
    if pin is not None and pin.tag != bump.tag:
        # Pinned after this bump was queued: the pin wins, nothing is pushed.
        raise ProvisioningError(f"{pin.refusal}; nothing was pushed", code="image_pinned")
    from console.services.merge_requests import bump_branch_name, merge_request_settings_of, open_for_bump

    by_merge_request = merge_request_settings_of(repository)
    result = image_tags.bump_image_tag(
        source=external_remote(repository), branch=bump_branch(repository), config=deploy_config(repository),
        image=bump.image, tag=bump.tag, work_dir=get_mirror().cache_path(mirror_cache_key(repository)),
        file=bump.file or None, location=bump.location or None,
        requested_by=bump.trigger_detail.get("by", "dso-console"), reason=bump.reason,
        push_branch=bump_branch_name(bump) if by_merge_request else None,
    )
    fields = {"old_tag": result.old_tag or "", "file": result.file, "location": result.location}
    if not result.changed:
        finish_run(bump, status=RunStatus.NO_CHANGE, **fields)
        return
    if by_merge_request:
        # The deploy branch is protected at the source: the pushed branch waits in a merge request, followed by
        # console.services.merge_requests until merged (then synced) or closed.
        open_for_bump(bump=bump, repository=repository, mr_settings=by_merge_request,
                      target_branch=bump_branch(repository), old_tag=result.old_tag or "")
        finish_run(bump, status=RunStatus.SUCCEEDED, commit_sha=result.commit_sha or "", **fields)
        return
    with transaction.atomic():
        finish_run(bump, status=RunStatus.SUCCEEDED, commit_sha=result.commit_sha or "", **fields)
        try:
            # Sync at once so the internal copy (what Argo CD reads) gets the bump and the change is recorded.
            # The console asks this sync itself: the bump was authorized when it was requested.
            actor = Actor.system(bump.trigger_detail.get("by", "dso-console"), user=bump.actor,
                                 detail={"image_bump": bump.pk})
            queued = sync_request(actor=actor, repository=repository, trigger=bump.trigger)
            ImageBump.objects.filter(pk=bump.pk).update(sync_run=queued.run)
        except DomainError as error:
            # The push landed; only the follow-up sync could not be asked for (e.g. archived meanwhile).
            log.info("bump %s pushed but its sync was refused: %s", bump.pk, error.message)

