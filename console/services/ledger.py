"""One ledger per image tag: every step the console knows from the application commit to the running pods.

Joined from what is recorded elsewhere, never copied: the release (CI report, app sync or registry
discovery) and the application repository's sync that carried its commit, the tag discovered in a watched
registry (digest, build time), the bumps to the tag (who, why, commit), the infra repositories' recorded
change to it and the sync that mirrored it, and the deployment state where deployment read-back exists.

Deployment steps come from ``settings.IMAGE_LEDGER_DEPLOYMENT_PROVIDERS``: callables
``provider(*, image, tag, repositories) -> list[dict]`` (each dict a step with at least ``step`` and ``at``),
by default the read-back's (console.services.deployment_ledger: Argo CD's "deployment" states and the
"running" image). Commit to running is measured to the last "running" step; with no provider configured the
ledger ends at the infra sync, which then stands in for it.

The image inventory answers "who runs registry/app:1.4.2?" for platform admins, in one query.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.utils.module_loading import import_string

from console.authorization import authorize
from console.models import DiscoveredTag, RefChange
from console.models.images import ImageBump, ImageInventoryEntry, ImageRelease, ImageTagChange
from console.selectors import projects_visible_to
from console.services.actors import Actor

STEP_ORDER = ("commit", "app_sync", "build", "registry", "bump", "infra_commit", "infra_sync", "deployment",
              "running")


def _step(step: str, at: datetime | None, **detail) -> dict:
    return {"step": step, "at": at, **detail}


def image_tag_ledger(*, user, image: str, tag: str) -> dict:
    """The timeline of ``image:tag`` across the projects ``user`` may see, oldest step first, with the
    seconds between consecutive steps and from the first commit to the last step."""
    image, tag = image.strip(), tag.strip()
    projects = projects_visible_to(user).values("pk")
    steps: list[dict] = []

    releases = list(ImageRelease.objects.filter(project__in=projects, image=image, tag=tag)
                    .select_related("repository", "project__organization").order_by("reported_at", "id"))
    commit_shas = {r.commit_sha for r in releases if r.commit_sha}
    for release in releases:
        if release.commit_sha and release.committed_at:
            steps.append(_step("commit", release.committed_at, commit_sha=release.commit_sha,
                               repository=release.repository.name if release.repository else None,
                               project=release.project.full_slug))
        kind = "registry" if release.source == ImageRelease.Source.REGISTRY else "build"
        steps.append(_step(kind, release.reported_at, source=release.source, project=release.project.full_slug,
                           repository=release.repository.name if release.repository else None,
                           commit_sha=release.commit_sha, resolved_at=release.resolved_at))
    if commit_shas:
        for change in (RefChange.objects.filter(new_sha__in=commit_shas, sync_run__repository__project__in=projects)
                       .select_related("sync_run__repository").order_by("sync_run__finished_at")):
            run = change.sync_run
            steps.append(_step("app_sync", run.finished_at, sync_run=run.pk, repository=run.repository.name,
                               ref=change.ref, commit_sha=change.new_sha, status=run.status))
    for found in (DiscoveredTag.objects.filter(image__registry__project__in=projects, tag=tag)
                  .select_related("image__registry")):
        if found.image.reference != image:
            continue
        if found.created:
            steps.append(_step("build", found.created, digest=found.digest, source="image config created"))
        steps.append(_step("registry", found.discovered_at, digest=found.digest, registry=found.image.registry.name))
    infra_repositories: set[int] = set()
    for bump in (ImageBump.objects.filter(repository__project__in=projects, image=image, tag=tag)
                 .select_related("repository", "actor", "merge_request").order_by("queued_at")):
        infra_repositories.add(bump.repository_id)
        steps.append(_step("bump", bump.queued_at, bump=bump.pk, repository=bump.repository.name,
                           by=bump.trigger_detail.get("by") or (bump.actor.get_username() if bump.actor else ""),
                           reason=bump.reason, status=bump.status, commit_sha=bump.commit_sha,
                           finished_at=bump.finished_at, trigger=bump.trigger,
                           merge_request=_merge_request_of(bump)))
    for change in (ImageTagChange.objects.filter(repository__project__in=projects, image=image, new_tag=tag,
                                                 on_deploy_line=True, rewritten_at__isnull=True)
                   .select_related("repository", "sync_run").order_by("sequence")):
        infra_repositories.add(change.repository_id)
        steps.append(_step("infra_commit", change.effective_committed_at or change.committed_at,
                           repository=change.repository.name, commit_sha=change.commit_sha,
                           effective_sha=change.effective_sha, file=change.file, location=change.location,
                           author=change.commit_author, bump=change.bump_id))
        if change.sync_run is not None:
            steps.append(_step("infra_sync", change.sync_run.finished_at, repository=change.repository.name,
                               sync_run=change.sync_run_id, status=change.sync_run.status))
    providers = getattr(settings, "IMAGE_LEDGER_DEPLOYMENT_PROVIDERS", ())
    for path in providers:
        steps.extend(import_string(path)(image=image, tag=tag, repositories=sorted(infra_repositories)))

    steps = [s for s in steps if s["at"] is not None]
    # Git records commit times to the second: steps within the same second keep the loop's order, and a
    # commit a few hundred milliseconds "before" the bump that made it counts as 0 s after it.
    steps.sort(key=lambda s: (s["at"].replace(microsecond=0),
                              STEP_ORDER.index(s["step"]) if s["step"] in STEP_ORDER else 99, s["at"]))
    for previous, current in zip(steps, steps[1:]):
        current["since_previous_seconds"] = max(0.0, (current["at"] - previous["at"]).total_seconds())
    first_commit = next((s["at"] for s in steps if s["step"] == "commit"), None)
    start = first_commit or (steps[0]["at"] if steps else None)
    # With deployment read-back, only an image seen running is running; without it, the infra sync (what
    # Argo CD reads) is the last thing the console knows.
    running = [s for s in steps if s["step"] in (("running",) if providers else ("deployment", "infra_sync"))]
    return {
        "image": image, "tag": tag, "steps": steps,
        "total_seconds": (steps[-1]["at"] - start).total_seconds() if steps and start else None,
        "commit_to_running_seconds": (running[-1]["at"] - first_commit).total_seconds()
        if running and first_commit else None,
        "running": bool(running) if providers else None,
        "deployments_known": bool(providers),
    }


def _merge_request_of(bump) -> dict | None:
    try:
        request = bump.merge_request
    except Exception:  # noqa: BLE001 - RelatedObjectDoesNotExist: a direct push
        return None
    return {"url": request.url, "state": request.state, "completed_at": request.completed_at}


def image_inventory(*, actor: Actor, image: str = "", tag: str = "", organization: str = "",
                    project: str = "") -> QuerySet:
    """Platform admins: where every image is set now, filtered; one query whatever the count."""
    authorize(actor, "platform.image_inventory", None)
    entries = (ImageInventoryEntry.objects.select_related("repository__project__organization")
               .order_by("image", "tag", "repository__project__organization__slug", "repository__project__slug",
                         "repository__name", "file", "location"))
    if image:
        entries = entries.filter(image__icontains=image.strip())
    if tag:
        entries = entries.filter(tag=tag.strip())
    if organization:
        entries = entries.filter(repository__project__organization__slug=organization.strip())
    if project:
        entries = entries.filter(repository__project__slug=project.strip())
    return entries


INVENTORY_COLUMNS = ("organization", "project", "repository", "image", "tag", "digest", "file", "location",
                     "commit_sha")


def inventory_row(entry: ImageInventoryEntry) -> dict:
    project = entry.repository.project
    return {"organization": project.organization.slug, "project": project.slug, "repository": entry.repository.name,
            "image": entry.image, "tag": entry.tag, "digest": entry.digest, "file": entry.file,
            "location": entry.location, "commit_sha": entry.commit_sha}


def inventory_csv(entries) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=INVENTORY_COLUMNS)
    writer.writeheader()
    for entry in entries:
        row = inventory_row(entry)
        # A cell starting with = + - @ is a formula to a spreadsheet: quote it as text.
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v)
                         for k, v in row.items()})
    return out.getvalue()
