"""Image tags: record every change after a sync, keep the inventory, warn while a release waits for a bump.

Detection runs inside a sync of an infra repository on the mirror cache the sync just fetched. It never
fails the mirror, but its own outcome is the run's image scan step (``SyncRun.image_scan_status``): files
it could not read are problems of a scan that succeeded; a scan that could not run is a failed step with its
reason, and since ``Repository.images_scanned_sha`` only advances on success, the next sync scans again.
"""

from __future__ import annotations

import functools
import logging

from django.db import transaction
from django.utils import timezone

from console.integrations import get_mirror
from console.models import Repository, SyncRun
from console.models.images import ImageInventoryEntry, ImageRelease, ImageTagChange
from console.models.runs import ImageScanStatus
from console.services.image_scans import image_scans_in_doubt, image_scans_message
from provisioning import image_tags
from provisioning.errors import InvalidInput, ProvisioningError

log = logging.getLogger(__name__)

MAX_RECORDED_PROBLEMS = 50


def deploy_config(repository: Repository) -> image_tags.DeployConfig:
    return image_tags.DeployConfig(
        kind=repository.deploy_kind,
        path=repository.deploy_path or ".",
        value_files=tuple(repository.helm_value_files or ("values.yaml",)),
    )


def images_after_sync(*, repository: Repository, run: SyncRun) -> None:
    """Called by the sync once the mirror cache holds the new commits."""
    if repository.is_infra:
        summary = _scan_infra_repository(repository=repository, run=run)
        status = (ImageScanStatus.FAILED if "error" in summary
                  else ImageScanStatus.UNCHANGED if summary.get("unchanged") else ImageScanStatus.SUCCEEDED)
        SyncRun.objects.filter(pk=run.pk).update(image_scan=summary, image_scan_status=status)
    elif repository.image_name and run.ref_changes.exists():
        _release_from_app_commits(repository=repository, run=run)


def _scan_infra_repository(*, repository: Repository, run: SyncRun) -> dict:
    from console.services.syncs import mirror_cache_key

    cache = get_mirror().cache_path(mirror_cache_key(repository))
    revision = repository.deploy_revision or "HEAD"
    if revision == "HEAD" and repository.default_branch:
        revision = repository.default_branch
    try:
        try:
            new_sha = image_tags.commit_info(cache, revision).sha
        except InvalidInput:
            raise ProvisioningError(f"deploy revision {revision!r} does not exist in the repository",
                                    code="revision_not_found") from None
        if new_sha == repository.images_scanned_sha:
            return {"commit": new_sha, "commits_scanned": 0, "changes": 0, "unchanged": True}
        result = image_tags.scan(
            cache, config=deploy_config(repository), old_sha=repository.images_scanned_sha or None, new_sha=new_sha
        )
    except ProvisioningError as error:
        # The mirror succeeded; the scan step failed: say why (e.g. the revision does not exist).
        log.info("image scan of %s failed: %s", repository, error)
        return {"error": str(error), "code": error.code}
    with transaction.atomic():
        recorded = _record_changes(repository, run, result.changes)
        ImageInventoryEntry.objects.filter(repository=repository).delete()
        ImageInventoryEntry.objects.bulk_create(
            ImageInventoryEntry(repository=repository, image=ref.image, tag=ref.tag or "", digest=ref.digest or "",
                                file=ref.file, location=ref.location, source=ref.source, commit_sha=new_sha)
            for ref in result.inventory
        )
        Repository.objects.filter(pk=repository.pk).update(images_scanned_sha=new_sha)
        _resolve_releases(repository.project_id)
    return {
        "commit": new_sha,
        "commits_scanned": result.commits_scanned,
        "changes": recorded,
        "images": len(result.inventory),
        "app_versions": [
            {"file": v.file, "old": v.old_version, "new": v.new_version, "commit": v.commit_sha}
            for v in result.app_versions
        ][-10:],
        "problems": [
            {"file": p.file, "commit": p.commit_sha, "reason": p.reason}
            for p in result.problems[:MAX_RECORDED_PROBLEMS]
        ],
    }


def _record_changes(repository: Repository, run: SyncRun, changes) -> int:
    from console.models.images import ImageBump

    bumps = {
        b.commit_sha: b for b in ImageBump.objects.filter(repository=repository).exclude(commit_sha="")
        .filter(commit_sha__in={c.commit_sha for c in changes})
    }
    rows = [
        ImageTagChange(
            repository=repository, sync_run=run, bump=bumps.get(c.commit_sha), file=c.file, location=c.location,
            image=c.image, kind=c.kind, old_tag=c.old_tag or "", new_tag=c.new_tag or "",
            old_digest=c.old_digest or "", new_digest=c.new_digest or "", commit_sha=c.commit_sha,
            commit_author=c.commit_author[:200], commit_email=c.commit_email[:200], committed_at=c.committed_at,
            commit_subject=c.commit_subject[:500], sequence=index,
        )
        for index, c in enumerate(changes)
    ]
    # A retried sync may scan commits it already recorded: the unique constraint keeps one row each.
    created = ImageTagChange.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return len(created)


def _release_from_app_commits(*, repository: Repository, run: SyncRun) -> None:
    branch = f"refs/heads/{repository.default_branch or 'main'}"
    moved = run.ref_changes.filter(ref=branch).exclude(new_sha="").first()
    if moved is None:
        return
    from console.services.syncs import mirror_cache_key

    committed_at = None
    try:
        committed_at = image_tags.commit_info(get_mirror().cache_path(mirror_cache_key(repository)),
                                              moved.new_sha).committed_at
    except ProvisioningError:
        pass  # an unreadable commit only loses the precise time: the report time stands in
    image_release_record(repository=repository, image=repository.image_name, tag="", commit_sha=moved.new_sha,
                         source=ImageRelease.Source.APP_SYNC, committed_at=committed_at)


def image_release_record(*, repository: Repository, image: str, tag: str, commit_sha: str, source: str,
                         committed_at=None) -> ImageRelease:
    """A new build (or new commits) of ``image``: open a warning unless an infra repo already deploys it."""
    project_id = repository.project_id
    with transaction.atomic():
        ImageRelease.objects.filter(project_id=project_id, image=image, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
        release = ImageRelease.objects.create(project_id=project_id, repository=repository, image=image, tag=tag,
                                              commit_sha=commit_sha, source=source, committed_at=committed_at)
        if tag and ImageInventoryEntry.objects.filter(
            repository__project_id=project_id, repository__is_infra=True, image=image, tag=tag
        ).exists():
            # Already deployed at that tag: nothing waits.
            release.resolved_at = timezone.now()
            release.save(update_fields=["resolved_at"])
    return release


def _resolve_releases(project_id: int) -> None:
    """An open release clears when an infra repo set the awaited tag, or changed the image's tag after it."""
    for release in ImageRelease.objects.filter(project_id=project_id, resolved_at__isnull=True):
        changes = ImageTagChange.objects.filter(repository__project_id=project_id, image=release.image)
        if release.tag:
            changes = changes.filter(new_tag=release.tag)
        else:
            # Only new commits are known: a tag change committed after the application commit answers them.
            changes = changes.filter(committed_at__gt=release.committed_at or release.reported_at)
            changes = changes.exclude(kind=ImageTagChange.Kind.REMOVED)
        change = changes.order_by("-committed_at").first()
        if change is not None:
            release.resolved_at = timezone.now()
            release.resolved_by = change
            release.save(update_fields=["resolved_at", "resolved_by"])


def redeploy_warnings(project) -> list[dict]:
    """What the project page, the API and sync runs show: images built but not bumped in any infra repo."""
    warnings = []
    open_releases = ImageRelease.objects.filter(project=project, resolved_at__isnull=True).select_related("repository")
    # Read only when a warning would otherwise say no infra repository sets the image.
    in_doubt = functools.cache(lambda: image_scans_in_doubt(project))
    for release in open_releases:
        places = list(
            ImageInventoryEntry.objects.filter(repository__project=project, image=release.image)
            .select_related("repository").order_by("repository__name", "file", "location")
        )
        waiting = release.tag or f"commit {release.commit_sha[:12]}"
        if places:
            where = "; ".join(f"{p.repository.name}: {p.file} {p.location} (now {p.tag or p.digest})" for p in places)
            message = (f"{release.image}: {waiting} is waiting, but no infra repository changed its tag since; "
                       f"Argo CD will redeploy nothing until you bump it in {where}")
        elif scans := in_doubt():
            # An incomplete inventory cannot show that no infra repository sets the image: say what is missing.
            message = f"{release.image}: {waiting} is waiting, but {image_scans_message(scans)}"
        else:
            message = (f"{release.image}: {waiting} is waiting, and no infra repository of this project sets this "
                       f"image; add it to a Helm values file or kustomization")
        warnings.append({
            "image": release.image, "tag": release.tag, "commit_sha": release.commit_sha,
            "source": release.source, "reported_at": release.reported_at,
            "repository": release.repository.name if release.repository else None,
            "bump_candidates": [
                {"repository_id": p.repository_id, "repository": p.repository.name, "file": p.file,
                 "location": p.location, "current_tag": p.tag}
                for p in places
            ],
            "image_scans": in_doubt() if not places else [],
            "message": message,
        })
    return warnings
