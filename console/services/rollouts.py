"""Bumps and built images followed into the cluster, from what the read-back pass saw.

A pushed bump is **deployed** once Argo CD synced a revision whose history contains the bump's commit (read
in the repository's mirror cache, which holds the internal repository's commits) and the Application is
Healthy; **failed** when the sync of such a revision failed or the Application went Degraded (with Argo CD's
message); **stuck** when nothing synced it ``ROLLOUT_STUCK_AFTER_SECONDS`` after the push. A built image's
redeploy warning reads "deployed" only once the Application reports the built tag running
(``status.summary.images``).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from console.integrations import get_mirror
from console.models import BumpRollout, Deployment, ImageBump, ImageRelease, ReleaseDeployment, RolloutStatus, RunStatus
from provisioning.revisions import contains

FOLLOWED = (RolloutStatus.WAITING, RolloutStatus.FAILED, RolloutStatus.STUCK)
FAILED_PHASES = ("Failed", "Error")
# Releases older than this are not looked for among running images any more.
RELEASE_FOLLOW_DAYS = 30


def _contains(repository, commit: str, revision: str) -> bool | None:
    from console.services.syncs import mirror_cache_key

    return contains(get_mirror().cache_path(mirror_cache_key(repository)), commit=commit, tip=revision)


def rollout_judge(bump: ImageBump, deployment: Deployment, *, now) -> tuple[str, str]:
    """(status, message) of a pushed bump given what Argo CD reports for its repository's Application."""
    if not deployment.found:
        return RolloutStatus.WAITING, "Argo CD has no Application for this repository yet"
    synced = _contains(bump.repository, bump.commit_sha, deployment.synced_revision) if deployment.synced_revision else None
    if synced and deployment.sync_status == "Synced" and deployment.health_status == "Healthy":
        return RolloutStatus.DEPLOYED, f"Argo CD synced {deployment.synced_revision[:12]} and the application is Healthy"
    if deployment.operation_phase in FAILED_PHASES and deployment.operation_revision and _contains(
            bump.repository, bump.commit_sha, deployment.operation_revision):
        return RolloutStatus.FAILED, deployment.operation_message or f"the sync ended {deployment.operation_phase}"
    if synced and deployment.health_status == "Degraded":
        return RolloutStatus.FAILED, deployment.health_message or "the application is Degraded"
    pushed_at = bump.finished_at or bump.queued_at
    waited = now - pushed_at
    if not synced and waited > timedelta(seconds=settings.ROLLOUT_STUCK_AFTER_SECONDS):
        minutes = int(waited.total_seconds() // 60)
        return RolloutStatus.STUCK, (
            f"Argo CD has not synced {bump.commit_sha[:12]} {minutes} minutes after the push "
            f"(synced revision {deployment.synced_revision[:12] or 'none'}, {deployment.sync_status or 'no sync status'})")
    return RolloutStatus.WAITING, (f"synced, {deployment.health_status or 'health unknown'}" if synced
                                   else "waiting for Argo CD to sync the bump")


def rollouts_follow(observed: list) -> None:
    """Judge every followed bump and built image of a chunk of projects the pass has just read."""
    now = timezone.now()
    deployments = {rid: d for item in observed for rid, d in item.deployments.items()}
    if not deployments:
        return
    bumps = list(
        ImageBump.objects.filter(repository_id__in=list(deployments), status=RunStatus.SUCCEEDED)
        .exclude(commit_sha="").filter(Q(rollout__isnull=True) | Q(rollout__status__in=FOLLOWED))
        .select_related("repository", "rollout").order_by("pk")
    )
    newest = {}
    for bump in bumps:
        newest[(bump.repository_id, bump.image)] = bump.pk
    created, updated = [], []
    for bump in bumps:
        try:
            rollout = bump.rollout
        except BumpRollout.DoesNotExist:
            rollout = BumpRollout(bump=bump)
        deployment = deployments[bump.repository_id]
        status, message = rollout_judge(bump, deployment, now=now)
        if status != RolloutStatus.DEPLOYED and newest[(bump.repository_id, bump.image)] != bump.pk:
            status, message = RolloutStatus.SUPERSEDED, "a newer bump of the same image replaced it"
        if rollout.pk is None or (status, message) != (rollout.status, rollout.message):
            if status != rollout.status or rollout.pk is None:
                rollout.changed_at = now
            rollout.status, rollout.message, rollout.synced_revision = status, message[:2000], deployment.synced_revision
            (updated if rollout.pk else created).append(rollout)
    BumpRollout.objects.bulk_create(created)
    BumpRollout.objects.bulk_update(updated, ["status", "message", "synced_revision", "changed_at"])
    _releases_follow(observed, now)


def running_image_matches(running: str, image: str, tag: str) -> bool:
    """'registry/app:1.2' (or with '@sha256:...' after the tag) runs the built image:tag."""
    expected = f"{image}:{tag}"
    return running == expected or running.startswith(expected + "@")


def _releases_follow(observed: list, now) -> None:
    images_by_project: dict[int, list[tuple[int, str]]] = {}
    for item in observed:
        images_by_project[item.project.pk] = [(d.repository_id, image) for d in item.deployments.values()
                                              if d.found for image in d.images]
    candidates = ImageRelease.objects.filter(
        project_id__in=list(images_by_project), deployment__isnull=True,
        reported_at__gte=now - timedelta(days=RELEASE_FOLLOW_DAYS)).exclude(tag="")
    found = []
    for release in candidates:
        for repository_id, running in images_by_project.get(release.project_id, []):
            if running_image_matches(running, release.image, release.tag):
                found.append(ReleaseDeployment(release=release, repository_id=repository_id,
                                               running_image=running[:700], deployed_at=now))
                break
    ReleaseDeployment.objects.bulk_create(found, ignore_conflicts=True)
    if found:
        # Seen running: whatever Git says, nothing is waiting to be deployed any more.
        ImageRelease.objects.filter(pk__in=[f.release_id for f in found], resolved_at__isnull=True).update(
            resolved_at=now)
