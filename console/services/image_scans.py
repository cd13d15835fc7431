"""Whether the image inventory of a project's infra repositories can be trusted to be complete.

A repository's inventory is what its last successful scan found. While it has never been scanned, or its
last scan failed, an image missing from it may still be set there: warnings must say so rather than claim
that no infra repository sets the image.
"""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from console.models import Repository, SyncRun
from console.models.runs import ImageScanStatus


def image_scans_in_doubt(project) -> list[dict]:
    """Infra repositories whose inventory may be incomplete: never scanned, or their last scan failed."""
    last_scan = (SyncRun.objects.filter(repository=OuterRef("pk")).exclude(image_scan_status=ImageScanStatus.NONE)
                 .order_by("-queued_at", "-id"))
    repositories = list(
        Repository.objects.filter(project=project, is_infra=True)
        .annotate(last_scan_id=Subquery(last_scan.values("pk")[:1])).order_by("name")
    )
    runs = SyncRun.objects.only("image_scan", "image_scan_status").in_bulk(
        [r.last_scan_id for r in repositories if r.last_scan_id]
    )
    scans = []
    for repository in repositories:
        run = runs.get(repository.last_scan_id)
        if run is not None and run.image_scan_failed:
            scans.append({"repository_id": repository.pk, "repository": repository.name, "state": "failed",
                          "reason": run.image_scan.get("error", ""), "sync_run_id": run.pk})
        elif not repository.images_scanned_sha:
            scans.append({"repository_id": repository.pk, "repository": repository.name, "state": "pending",
                          "reason": "", "sync_run_id": run.pk if run else None})
    return scans


def image_scans_message(scans: list[dict]) -> str:
    return "where this image is set is not known yet: " + "; ".join(
        f"the image scan of {scan['repository']} failed ({scan['reason']}); it is retried on the next sync"
        if scan["state"] == "failed" else f"{scan['repository']} has not been scanned for images yet"
        for scan in scans
    )
