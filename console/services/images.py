"""Image tags: record every change after a sync, keep the inventory, warn while a release waits for a bump.

Detection runs inside a sync of an infra repository on the mirror cache the sync just fetched. It never
fails the mirror, but its own outcome is the run's image scan step (``SyncRun.image_scan_status``): files
it could not read are problems of a scan that succeeded; a scan that could not run is a failed step with its
reason, and since ``Repository.images_scanned_sha`` only advances on success, the next sync scans again.
"""

from __future__ import annotations

import functools
import dataclasses
import logging

from django.db import transaction
from django.utils import timezone

from console.integrations import get_mirror
from console.models import Repository, SyncRun
from console.models.images import ImageInventoryEntry, ImageRelease, ImageTagChange
from console.models.runs import ImageScanStatus
from console.services.image_scans import image_scans_in_doubt, image_scans_message
from console.services.image_history import current_change, history_record, inventory_replace
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
        run.image_scan, run.image_scan_status = summary, status
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
        old_sha, lost = _last_scanned(cache, repository)
        result = image_tags.scan(cache, config=deploy_config(repository), old_sha=old_sha, new_sha=new_sha)
        if lost:
            result = _after_lost_commit(cache, repository, result, new_sha)
    except ProvisioningError as error:
        # The mirror succeeded; the scan step failed: say why (e.g. the revision does not exist).
        log.info("image scan of %s failed: %s", repository, error)
        return {"error": str(error), "code": error.code}
    with transaction.atomic():
        recorded = history_record(repository=repository, run=run, result=result)
        images, refused_refs = inventory_replace(repository=repository, result=result, commit_sha=new_sha)
        refused = recorded.refused + refused_refs
        Repository.objects.filter(pk=repository.pk).update(images_scanned_sha=new_sha)
        _reopen_releases(recorded.rewritten_ids)
        _resolve_releases(repository.project_id)
    summary = {
        "commit": new_sha,
        "commits_scanned": result.commits_scanned,
        "changes": recorded.stored,
        "images": images,
        "app_versions": [
            {"file": v.file, "old": v.old_version, "new": v.new_version, "commit": v.commit_sha}
            for v in result.app_versions
        ][-10:],
        # Refused values first: they are why a change the repository has is missing from the history.
        "problems": (_lost_problem(lost) + refused + [
            {"file": p.file, "commit": p.commit_sha, "reason": p.reason} for p in result.problems
        ])[:MAX_RECORDED_PROBLEMS],
    }
    if refused:
        summary["refused"] = len(refused)
    if recorded.already_recorded:
        summary["already_recorded"] = recorded.already_recorded
    if result.removed_commits is not None:
        summary["force_push"] = {"removed_commits": len(result.removed_commits), "rewritten": recorded.rewritten}
    return summary


def _last_scanned(cache, repository: Repository) -> tuple[str | None, str | None]:
    """(the commit to scan from, the last scanned commit when it is gone from the repository)."""
    old_sha = repository.images_scanned_sha or None
    if old_sha:
        try:
            image_tags.commit_info(cache, old_sha)
        except InvalidInput:
            return None, old_sha
    return old_sha, None


def _after_lost_commit(cache, repository: Repository, result, new_sha: str):
    """The history was read again from the first commit: what it no longer contains is marked rewritten."""
    effective = set(repository.image_tag_changes.filter(rewritten_at__isnull=True)
                    .values_list("effective_sha", flat=True).distinct())
    gone = image_tags.commits_not_contained(cache, effective, tip=new_sha)
    return dataclasses.replace(result, removed_commits=tuple(sorted(gone)))


def _lost_problem(lost: str | None) -> list[dict]:
    if not lost:
        return []
    return [{"file": "", "commit": lost, "reason": (
        f"the last scanned commit {lost[:12]} is gone from the repository (force-pushed away and "
        "garbage-collected): the history was read again from the first commit; changes it no longer contains "
        "are marked rewritten, without a change back")}]


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
    if not moved.old_sha and committed_at is not None and committed_at <= repository.created_at:
        # The import of a newly registered repository: what was committed before it was registered is
        # history the infra repositories already answered (or not) before the console knew the app.
        return
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
        # Judged against the infra repositories' current state at once: they may have synced first.
        _settle(release)
    return release


def _deployed_by(release: ImageRelease) -> tuple[bool, ImageTagChange | None]:
    """Whether an infra repository of the project deploys the release now, and the change that set it.

    A built tag is deployed when an infra repository's current tag for the image equals it; new commits
    (no tag known) when a place now sets the image with a tag a commit chose after those commits. Tags
    seen anywhere in history (force-pushed away, or an old tag reused since) do not count."""
    places = ImageInventoryEntry.objects.filter(repository__project_id=release.project_id,
                                                repository__is_infra=True, image=release.image)
    if release.tag:
        places = places.filter(tag=release.tag)
    after = release.committed_at or release.reported_at
    found = False
    for place in places.order_by("repository_id", "file", "location"):
        change = current_change(repository_id=place.repository_id, file=place.file, location=place.location,
                                image=place.image)
        if release.tag:
            found = True
            if change is not None and change.new_tag == release.tag:
                return True, change
        elif change is not None and change.committed_at > after:
            return True, change
    return found, None


def _settle(release: ImageRelease) -> bool:
    deployed, change = _deployed_by(release)
    if deployed:
        release.resolved_at = timezone.now()
        release.resolved_by = change
        release.save(update_fields=["resolved_at", "resolved_by"])
    return deployed


def _resolve_releases(project_id: int) -> None:
    """An open release clears when an infra repository now deploys the awaited tag, or now sets the image
    with a tag chosen after the awaited commits."""
    for release in ImageRelease.objects.filter(project_id=project_id, resolved_at__isnull=True):
        _settle(release)


def _reopen_releases(rewritten_ids: list[int]) -> None:
    """A warning that cleared because of a change a force-push took away opens again, unless a newer
    release superseded it or the infra repositories still deploy it."""
    if not rewritten_ids:
        return
    for release in ImageRelease.objects.filter(resolved_by_id__in=rewritten_ids):
        superseded = ImageRelease.objects.filter(project_id=release.project_id, image=release.image,
                                                 pk__gt=release.pk).exists()
        still_open = ImageRelease.objects.filter(project_id=release.project_id, image=release.image,
                                                 resolved_at__isnull=True).exists()
        if superseded or still_open:
            continue
        deployed, change = _deployed_by(release)
        if deployed:
            release.resolved_by = change
            release.save(update_fields=["resolved_by"])
        else:
            release.resolved_at, release.resolved_by = None, None
            release.save(update_fields=["resolved_at", "resolved_by"])


def redeploy_warnings(project) -> list[dict]:
    """What the project page, the API and sync runs show: images built but not bumped in any infra repo."""
    warnings = []
    open_releases = list(
        ImageRelease.objects.filter(project=project, resolved_at__isnull=True).select_related("repository"))
    if not open_releases:
        return warnings  # the common case (every poll of a running sync asks): no pins to read
    # Read only when a warning would otherwise say no infra repository sets the image.
    in_doubt = functools.cache(lambda: image_scans_in_doubt(project))
    from console.services.pins import active_pins_of_project

    pins = active_pins_of_project(project)
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
                 "location": p.location, "current_tag": p.tag,
                 "pinned": _pin_summary(pins.get((p.repository_id, release.image)))}
                for p in places
            ],
            "image_scans": in_doubt() if not places else [],
            "message": message + _pinned_note(release.image, places, pins),
        })
    return warnings


def _pin_summary(pin) -> dict | None:
    if pin is None:
        return None
    return {"id": pin.pk, "tag": pin.tag, "by": pin.pinned_by_label, "reason": pin.reason, "message": pin.refusal}


def _pinned_note(image: str, places, pins) -> str:
    """A pinned place cannot be bumped: the warning says so, or the one-click bump would only meet a 409."""
    pinned = sorted({(p.repository.name, pins[(p.repository_id, image)].refusal) for p in places
                     if (p.repository_id, image) in pins})
    if not pinned:
        return ""
    return "; " + "; ".join(f"in {name}: {refusal} (unpin it to bump)" for name, refusal in pinned)
