"""The image tag ledger's deployment steps, from what the read-back pass recorded (the ledger's default
``IMAGE_LEDGER_DEPLOYMENT_PROVIDERS`` entry; see console.services.ledger for the hook).

Per bump of the tag in the given infra repositories: each status its rollout entered (stuck, failed,
deployed, superseded) with Argo CD's message, synced revision, sync and health status at the time and the
Application's deep link, then the first pass that saw the bumped image running. A built image seen running
(``ReleaseDeployment``) in a repository where no bump of the tag was seen running adds its own running step:
the tag may have been set there by a commit the console did not make.

Two queries, whatever the number of bumps; none when no infra repository is visible.
"""

from __future__ import annotations

from django.utils.dateparse import parse_datetime

from console.models import BumpRollout, Deployment, ReleaseDeployment, RolloutStatus

# Waiting is where every rollout starts: the bump step already says when.
SHOWN_STATUSES = (RolloutStatus.STUCK, RolloutStatus.FAILED, RolloutStatus.DEPLOYED, RolloutStatus.SUPERSEDED)


def deployment_ledger_steps(*, image: str, tag: str, repositories: list[int]) -> list[dict]:
    if not repositories:
        return []
    steps: list[dict] = []
    running_in: set[int] = set()
    rollouts = (BumpRollout.objects.filter(bump__repository_id__in=repositories, bump__image=image, bump__tag=tag)
                .select_related("bump__repository__deployment").order_by("bump_id"))
    for rollout in rollouts:
        repository = rollout.bump.repository
        deployment = _deployment_of(repository)
        where = {"repository": repository.name, "bump": rollout.bump_id, **_argocd(deployment)}
        for entry in _history(rollout):
            if entry["status"] not in SHOWN_STATUSES:
                continue
            steps.append({"step": "deployment", "at": entry["at"], **where, "status": entry["status"],
                          "message": entry.get("message", ""), "synced_revision": entry.get("synced_revision", ""),
                          "sync_status": entry.get("sync_status", ""), "health_status": entry.get("health_status", "")})
        if rollout.running_at is not None:
            running_in.add(repository.pk)
            steps.append({"step": "running", "at": rollout.running_at, **where, "image": rollout.running_image,
                          "still_running": _still_running(deployment, rollout.running_image)})
    for seen in (ReleaseDeployment.objects.filter(release__image=image, release__tag=tag,
                                                  repository_id__in=repositories)
                 .select_related("repository__deployment").order_by("deployed_at", "pk")):
        if seen.repository_id in running_in:
            continue
        running_in.add(seen.repository_id)
        deployment = _deployment_of(seen.repository)
        steps.append({"step": "running", "at": seen.deployed_at, "repository": seen.repository.name,
                      "release": seen.release_id, **_argocd(deployment), "image": seen.running_image,
                      "still_running": _still_running(deployment, seen.running_image)})
    return steps


def _history(rollout: BumpRollout) -> list[dict]:
    """The recorded transitions (times parsed back from JSON); a rollout recorded before the history was kept
    has only its current status, at the time it changed."""
    if not rollout.history:
        return [{"status": rollout.status, "at": rollout.changed_at, "message": rollout.message,
                 "synced_revision": rollout.synced_revision}]
    return [{**entry, "at": parse_datetime(entry["at"]) if isinstance(entry.get("at"), str) else entry.get("at")}
            for entry in rollout.history]


def _deployment_of(repository):
    try:
        return repository.deployment
    except Deployment.DoesNotExist:  # never read back
        return None


def _argocd(deployment) -> dict:
    if deployment is None:
        return {}
    return {"application": deployment.application, "argocd_link": deployment.argocd_link}


def _still_running(deployment, running_image: str) -> bool | None:
    """Whether the last read of the Application still lists the image (None: never read)."""
    if deployment is None or deployment.observed_at is None:
        return None
    return running_image in deployment.images
