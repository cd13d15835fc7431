"""Bumps and built images followed into the cluster, from what the read-back pass saw.

A pushed bump is **deployed** once Argo CD synced a revision whose history contains the bump's commit (read
in the repository's mirror cache, which holds the internal repository's commits) and the Application is
Healthy; **failed** when the sync of such a revision failed or the Application went Degraded (with Argo CD's
message); **stuck** when nothing synced it ``ROLLOUT_STUCK_AFTER_SECONDS`` after the push. A built image's
redeploy warning reads "deployed" only once the Application reports the built tag running
(``status.summary.images``); for a tag the registry watch discovered, a running digest must be the one it read.

Each status a rollout enters is kept in its history (the image tag ledger's deployment steps), with the first
time the bumped image was seen running. Entering failed or stuck sends the project's ``bump_failed``
notification once per transition (``_notify_failed``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from console.integrations import get_mirror
from console.models import (
    BumpRollout,
    Deployment,
    DiscoveredTag,
    ImageBump,
    ImageRelease,
    NotificationEvent,
    ReleaseDeployment,
    RolloutStatus,
    RunStatus,
)
from provisioning.revisions import contains

log = logging.getLogger(__name__)

FOLLOWED = (RolloutStatus.WAITING, RolloutStatus.FAILED, RolloutStatus.STUCK)
# Entering one of these tells the project (bump_failed).
NOTIFIED = (RolloutStatus.FAILED, RolloutStatus.STUCK)
FAILED_PHASES = ("Failed", "Error")
# Releases older than this are not looked for among running images any more.
RELEASE_FOLLOW_DAYS = 30
# A rollout that flaps keeps its latest transitions only.
HISTORY_KEPT = 20


class Judgement(NamedTuple):
    status: str
    message: str
    synced: bool  # Argo CD synced a revision containing the bump's commit


def _contains(repository, commit: str, revision: str) -> bool | None:
    from console.services.syncs import mirror_cache_key

    return contains(get_mirror().cache_path(mirror_cache_key(repository)), commit=commit, tip=revision)


def rollout_judge(bump: ImageBump, deployment: Deployment, *, now) -> Judgement:
    """The status and message of a pushed bump given what Argo CD reports for its repository's Application."""
    if not deployment.found:
        return Judgement(RolloutStatus.WAITING, "Argo CD has no Application for this repository yet", False)
    synced = bool(deployment.synced_revision) and bool(
        _contains(bump.repository, bump.commit_sha, deployment.synced_revision))
    if synced and deployment.sync_status == "Synced" and deployment.health_status == "Healthy":
        return Judgement(RolloutStatus.DEPLOYED,
                         f"Argo CD synced {deployment.synced_revision[:12]} and the application is Healthy", synced)
    if deployment.operation_phase in FAILED_PHASES and deployment.operation_revision and _contains(
            bump.repository, bump.commit_sha, deployment.operation_revision):
        return Judgement(RolloutStatus.FAILED,
                         deployment.operation_message or f"the sync ended {deployment.operation_phase}", synced)
    if synced and deployment.health_status == "Degraded":
        return Judgement(RolloutStatus.FAILED, deployment.health_message or "the application is Degraded", synced)
    pushed_at = bump.finished_at or bump.queued_at
    waited = now - pushed_at
    if not synced and waited > timedelta(seconds=settings.ROLLOUT_STUCK_AFTER_SECONDS):
        minutes = int(waited.total_seconds() // 60)
        return Judgement(RolloutStatus.STUCK, (
            f"Argo CD has not synced {bump.commit_sha[:12]} {minutes} minutes after the push "
            f"(synced revision {deployment.synced_revision[:12] or 'none'}, {deployment.sync_status or 'no sync status'})"),
            synced)
    return Judgement(RolloutStatus.WAITING, (f"synced, {deployment.health_status or 'health unknown'}" if synced
                                             else "waiting for Argo CD to sync the bump"), synced)


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
    created, updated, left_notified, to_notify = [], [], [], []
    for bump in bumps:
        try:
            rollout = bump.rollout
        except BumpRollout.DoesNotExist:
            rollout = BumpRollout(bump=bump)
        deployment = deployments[bump.repository_id]
        status, message, synced = rollout_judge(bump, deployment, now=now)
        if status != RolloutStatus.DEPLOYED and newest[(bump.repository_id, bump.image)] != bump.pk:
            status, message = RolloutStatus.SUPERSEDED, "a newer bump of the same image replaced it"
        changed = False
        if rollout.pk is None or (status, message) != (rollout.status, rollout.message):
            if status != rollout.status or rollout.pk is None:
                rollout.changed_at = now
                rollout.history = [*rollout.history, _transition(status, message, deployment, now)][-HISTORY_KEPT:]
                if rollout.notified_status and status not in NOTIFIED:
                    left_notified.append(rollout)
            rollout.status, rollout.message, rollout.synced_revision = status, message[:2000], deployment.synced_revision
            changed = True
        if rollout.running_at is None and (synced or status == RolloutStatus.DEPLOYED):
            # Only once Argo CD synced the bump: the same tag running before that was not this bump's doing.
            running = next((image for image in deployment.images
                            if running_image_matches(image, bump.image, bump.tag)), None)
            if running is not None:
                rollout.running_image, rollout.running_at = running[:700], now
                changed = True
        if changed:
            (updated if rollout.pk else created).append(rollout)
        if status in NOTIFIED and rollout.notified_status != status:
            to_notify.append(rollout)  # also one whose notification failed last pass: it is tried again
    BumpRollout.objects.bulk_create(created)
    # notified_status is never written from memory: a pass running alongside may have just claimed it.
    BumpRollout.objects.bulk_update(updated, ["status", "message", "synced_revision", "changed_at", "history",
                                              "running_image", "running_at"])
    if left_notified:
        BumpRollout.objects.filter(pk__in=[r.pk for r in left_notified]).exclude(
            status__in=NOTIFIED).update(notified_status="")
    _notify_failed(to_notify, deployments)
    _releases_follow(observed, now)


def _transition(status: str, message: str, deployment: Deployment, now) -> dict:
    return {"status": status, "at": now, "message": message[:2000], "synced_revision": deployment.synced_revision,
            "sync_status": deployment.sync_status, "health_status": deployment.health_status}


def _notify_failed(rollouts: list[BumpRollout], deployments: dict[int, Deployment]) -> None:
    """``bump_failed`` for each rollout that has just become failed or stuck, once per transition.

    The claim (a conditional UPDATE of ``notified_status``) and the deliveries are one transaction: a pass
    that runs again, is redelivered or runs alongside finds the transition claimed and sends nothing, and a
    pass that dies before committing leaves it for the next one."""
    from console.services.notifications import notify

    for rollout in rollouts:
        bump = rollout.bump
        deployment = deployments.get(bump.repository_id)
        try:
            with transaction.atomic():
                claimed = (BumpRollout.objects.filter(pk=rollout.pk, status=rollout.status)
                           .exclude(notified_status=rollout.status).update(notified_status=rollout.status))
                if not claimed:
                    continue
                notify(project=bump.repository.project_id, event=NotificationEvent.BUMP_FAILED, payload={
                    "repository": bump.repository.name, "bump": bump.pk, "image": bump.image, "tag": bump.tag,
                    "code": f"rollout_{rollout.status}", "status": rollout.status, "message": rollout.message,
                    "commit_sha": bump.commit_sha, "synced_revision": rollout.synced_revision,
                    "argocd_link": deployment.argocd_link if deployment else ""})
        except Exception:  # noqa: BLE001 - like notify_safely: a notification never fails the pass
            log.exception("notifying the %s rollout of bump %s failed", rollout.status, bump.pk)


def running_image_matches(running: str, image: str, tag: str, digest: str = "") -> bool:
    """Whether ``running`` (an entry of ``status.summary.images``) is the built ``image:tag``.

    'registry/app:1.2' is, and so is 'registry/app:1.2@sha256:…' unless ``digest`` (what the registry watch
    read for the tag) is known and differs: the tag was pushed again and something else runs. With the digest
    known, 'registry/app@sha256:…' (a reference by digest alone) is the built tag when the digests are equal."""
    name, _, running_digest = running.partition("@")
    if digest and running_digest:
        return running_digest == digest and name in (image, f"{image}:{tag}")
    return name == f"{image}:{tag}"


def _releases_follow(observed: list, now) -> None:
    images_by_project: dict[int, list[tuple[int, str]]] = {}
    for item in observed:
        images_by_project[item.project.pk] = [(d.repository_id, image) for d in item.deployments.values()
                                              if d.found for image in d.images]
    candidates = list(ImageRelease.objects.filter(
        project_id__in=list(images_by_project), deployment__isnull=True,
        reported_at__gte=now - timedelta(days=RELEASE_FOLLOW_DAYS)).exclude(tag=""))
    digests = _discovered_digests([r for r in candidates if r.source == ImageRelease.Source.REGISTRY])
    found = []
    for release in candidates:
        digest = digests.get((release.project_id, release.image, release.tag), "")
        for repository_id, running in images_by_project.get(release.project_id, []):
            if running_image_matches(running, release.image, release.tag, digest):
                found.append(ReleaseDeployment(release=release, repository_id=repository_id,
                                               running_image=running[:700], deployed_at=now))
                break
    ReleaseDeployment.objects.bulk_create(found, ignore_conflicts=True)
    if found:
        # Seen running: whatever Git says, nothing is waiting to be deployed any more.
        ImageRelease.objects.filter(pk__in=[f.release_id for f in found], resolved_at__isnull=True).update(
            resolved_at=now)


def _discovered_digests(releases: list[ImageRelease]) -> dict[tuple[int, str, str], str]:
    """(project, image, tag) -> the digest the registry watch read for the tags these releases came from."""
    if not releases:
        return {}
    wanted = {(r.project_id, r.image, r.tag) for r in releases}
    found = (DiscoveredTag.objects.filter(image__registry__project_id__in={r.project_id for r in releases},
                                          tag__in={r.tag for r in releases}).exclude(digest="")
             .select_related("image__registry"))
    digests = {}
    for discovered in found:
        key = (discovered.image.registry.project_id, discovered.image.reference, discovered.tag)
        if key in wanted:
            digests[key] = discovered.digest
    return digests
