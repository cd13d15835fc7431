"""Bumps by merge request: an infra repository whose deploy branch is protected at its external GitLab gets
its bumps as a pushed branch plus a merge request (python-gitlab, the repository's token). The request's URL
and state are recorded and followed by a beat task to merged or closed; once merged, the console syncs the
repository, and the bump is complete when that sync has mirrored the merge commit."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.authorization import authorize
from console.models import BumpMergeRequest, MergeRequestSettings, Repository, RunStatus
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import DomainError
from provisioning.errors import ProvisioningError
from provisioning.forge.merge_requests import MergeRequestClient

log = logging.getLogger(__name__)


def merge_request_settings_set(*, actor: Actor, repository: Repository, gitlab_url: str, project_path: str,
                               enabled: bool = True) -> MergeRequestSettings:
    authorize(actor, "repository.manage", repository, doing="changing how bumps reach the repository")
    if not repository.is_infra:
        raise DomainError({"repository": ["bumps by merge request apply to infra repositories"]}, code="not_infra")
    from console.services.registries import _check_url

    gitlab_url = (gitlab_url or "").strip().rstrip("/")
    _check_url(gitlab_url)
    project_path = (project_path or "").strip().strip("/")
    if not project_path or "/" not in project_path:
        raise DomainError({"project_path": ["the GitLab project path, e.g. team/deploy"]})
    with transaction.atomic():
        current, _ = MergeRequestSettings.objects.update_or_create(
            repository=repository, defaults={"gitlab_url": gitlab_url, "project_path": project_path,
                                             "enabled": enabled})
        audit_record(actor=actor, action="repository.merge_request_settings", target=repository,
                     after={"gitlab_url": gitlab_url, "project_path": project_path, "enabled": enabled})
    return current


def merge_request_settings_of(repository: Repository) -> MergeRequestSettings | None:
    return MergeRequestSettings.objects.filter(repository=repository, enabled=True).first()


def client_for(repository: Repository, mr_settings: MergeRequestSettings) -> MergeRequestClient:
    return MergeRequestClient(mr_settings.gitlab_url, repository.token, timeout=settings.GITLAB_TIMEOUT_SECONDS,
                              ssl_verify=settings.GITLAB_SSL_VERIFY)


def bump_branch_name(bump) -> str:
    return f"dso-console/bump-{bump.pk}"


def open_for_bump(*, bump, repository: Repository, mr_settings: MergeRequestSettings, target_branch: str,
                  old_tag: str) -> BumpMergeRequest:
    client = client_for(repository, mr_settings)
    info = client.open(
        project_path=mr_settings.project_path, source_branch=bump_branch_name(bump), target_branch=target_branch,
        title=f"Bump {bump.image} {old_tag or '?'} -> {bump.tag}",
        description=(f"Requested by {bump.trigger_detail.get('by', 'dso-console')} through DSO Console (bump "
                     f"#{bump.pk}).\n\n{bump.reason}").strip())
    request, _ = BumpMergeRequest.objects.update_or_create(
        bump=bump, defaults={"iid": info.iid, "url": info.web_url, "source_branch": bump_branch_name(bump),
                             "target_branch": target_branch, "state": info.state})
    return request


def merge_requests_follow() -> dict[str, int]:
    """Beat: read the state of every open merge request; sync a merged one's repository; mark bumps complete
    once their sync has mirrored the merge commit."""
    report = {"checked": 0, "merged": 0, "closed": 0, "completed": 0, "errors": 0}
    for request in (BumpMergeRequest.objects.filter(state=BumpMergeRequest.State.OPENED)
                    .select_related("bump__repository__project__organization")):
        repository = request.bump.repository
        mr_settings = MergeRequestSettings.objects.filter(repository=repository).first()
        if mr_settings is None:
            continue
        report["checked"] += 1
        try:
            info = client_for(repository, mr_settings).get(project_path=mr_settings.project_path, iid=request.iid)
        except ProvisioningError as error:
            log.info("merge request %s of bump %s could not be read: %s", request.iid, request.bump_id, error)
            report["errors"] += 1
            continue
        now = timezone.now()
        if info.state == BumpMergeRequest.State.MERGED:
            from console.services.syncs import sync_request

            with transaction.atomic():
                queued = sync_request(actor=Actor.system("merge-request", user=request.bump.actor,
                                                         detail={"image_bump": request.bump_id}),
                                      repository=repository, trigger=request.bump.trigger)
                BumpMergeRequest.objects.filter(pk=request.pk).update(
                    state=info.state, merge_commit_sha=info.merge_commit_sha or "", checked_at=now, closed_at=now,
                    sync_run=queued.run)
            report["merged"] += 1
        elif info.state == BumpMergeRequest.State.CLOSED:
            BumpMergeRequest.objects.filter(pk=request.pk).update(state=info.state, checked_at=now, closed_at=now)
            from console.services.notifications import notify_safely

            notify_safely(project=repository.project_id, event="bump_failed",
                          payload={"repository": repository.name, "bump": request.bump_id, "image": request.bump.image,
                                   "tag": request.bump.tag, "code": "merge_request_closed",
                                   "message": f"merge request {request.url} was closed without merging"})
            report["closed"] += 1
        else:
            BumpMergeRequest.objects.filter(pk=request.pk).update(checked_at=now)
    done = (BumpMergeRequest.objects.filter(state=BumpMergeRequest.State.MERGED, completed_at__isnull=True,
                                            sync_run__status__in=(RunStatus.SUCCEEDED, RunStatus.NO_CHANGE))
            .select_related("sync_run"))
    for request in done:
        BumpMergeRequest.objects.filter(pk=request.pk).update(completed_at=request.sync_run.finished_at)
        report["completed"] += 1
    return report
