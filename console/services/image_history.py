"""The durable image tag history of an infra repository: record what a scan found, follow force-pushes, refuse
values the columns cannot hold, and read it along the deploy branch or commit by commit.

Nothing a scan detects is dropped without a word: a change is stored, reported as already recorded (a
repeated scan), or refused with a reason that the run shows. ``image_scan["changes"]`` is the number of rows
the run stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from console.models import Repository, SyncRun
from console.models.images import ImageInventoryEntry, ImageTagChange, place_key
from provisioning import image_tags

ALONG_DEPLOY = "deploy"
ALONG_COMMITS = "commits"
ALONG_ALL = "all"
ALONG_CHOICES = {
    ALONG_DEPLOY: "each change of the deployed value once, in the order of the deploy branch's first-parent "
                  "line",
    ALONG_COMMITS: "what each commit changed, side-branch commits included, by commit time",
    ALONG_ALL: "every recorded row, in recording order",
}
_CHUNK = 1000
_SHOWN_PATH = 120  # how much of an over-long path a problem repeats


@dataclass
class Recorded:
    stored: int = 0
    already_recorded: int = 0
    rewritten: int = 0
    rewritten_ids: list[int] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)


def _limit(model, name: str) -> int:
    return model._meta.get_field(name).max_length


def _too_long(model, values: dict[str, str | None]) -> str | None:
    """Why a value cannot be stored as is, or None. Refusing beats truncating: a cut tag is a made-up tag."""
    for name, value in values.items():
        limit = _limit(model, name)
        if value and len(value) > limit:
            return f"{name.replace('_', ' ')} is {len(value)} characters long (limit {limit}); not recorded"
    return None


def _problem(file: str, commit: str | None, reason: str) -> dict:
    shown = file if len(file) <= _SHOWN_PATH else file[:_SHOWN_PATH] + "…"
    return {"file": shown, "commit": commit, "reason": reason}


def history_record(*, repository: Repository, run: SyncRun, result: image_tags.ScanResult) -> Recorded:
    """Store a scan's changes (inside the caller's transaction) after marking what a force-push removed."""
    from console.models.images import ImageBump

    outcome = Recorded()
    if result.removed_commits is not None:
        outcome.rewritten_ids = _rewrite_away(repository, run, result.removed_commits)
        outcome.rewritten = len(outcome.rewritten_ids)
    bumps = {
        b.commit_sha: b for b in ImageBump.objects.filter(repository=repository).exclude(commit_sha="")
        .filter(commit_sha__in={c.commit_sha for c in result.changes})
    }
    rows = []
    for c in result.changes:
        reason = _too_long(ImageTagChange, {
            "file": c.file, "location": c.location, "image": c.image, "old_image": c.old_image,
            "old_tag": c.old_tag, "new_tag": c.new_tag, "old_digest": c.old_digest, "new_digest": c.new_digest,
        })
        if reason:
            outcome.refused.append(_problem(c.file, c.commit_sha, f"image change refused: {reason}"))
            continue
        rows.append(ImageTagChange(
            repository=repository, sync_run=run, bump=bumps.get(c.commit_sha), file=c.file, location=c.location,
            image=c.image, old_image=c.old_image or "", kind=c.kind, old_tag=c.old_tag or "",
            new_tag=c.new_tag or "", old_digest=c.old_digest or "", new_digest=c.new_digest or "",
            commit_sha=c.commit_sha, commit_author=c.commit_author[:200], commit_email=c.commit_email[:200],
            committed_at=c.committed_at, commit_subject=c.commit_subject[:500],
            effective_sha=c.effective_sha or c.commit_sha, effective_subject=c.effective_subject[:500],
            effective_committed_at=c.effective_committed_at or c.committed_at, on_deploy_line=c.on_deploy_line,
            own_change=c.own_change, cause=c.cause, place_key=place_key(c.file, c.location, c.image),
        ))
    rows = _not_yet_recorded(repository, rows, outcome)
    start = (repository.image_tag_changes.aggregate(last=Max("sequence"))["last"] or 0) + 1
    for offset, row in enumerate(rows):
        row.sequence = start + offset
    outcome.stored = len(ImageTagChange.objects.bulk_create(rows, batch_size=500))
    return outcome


def _not_yet_recorded(repository: Repository, rows: list[ImageTagChange], outcome: Recorded) -> list:
    """Rows a repeated scan already stored are counted, not inserted: the unique key never has to drop one."""
    def key(row):
        return (row.commit_sha, row.effective_sha, row.place_key, row.on_deploy_line)

    commits = sorted({r.commit_sha for r in rows if r.cause == ImageTagChange.Cause.COMMIT})
    seen = set()
    active = repository.image_tag_changes.filter(rewritten_at__isnull=True, cause=ImageTagChange.Cause.COMMIT)
    for index in range(0, len(commits), _CHUNK):
        seen.update(
            active.filter(commit_sha__in=commits[index:index + _CHUNK])
            .values_list("commit_sha", "effective_sha", "place_key", "on_deploy_line")
        )
    fresh = []
    for row in rows:
        if row.cause == ImageTagChange.Cause.COMMIT:
            if key(row) in seen:
                outcome.already_recorded += 1
                continue
            seen.add(key(row))
        fresh.append(row)
    return fresh


def _rewrite_away(repository: Repository, run: SyncRun, removed: tuple[str, ...]) -> list[int]:
    """Changes that took effect at a commit the deploy revision no longer contains stay, marked rewritten."""
    active = repository.image_tag_changes.filter(rewritten_at__isnull=True)
    ids: list[int] = []
    for index in range(0, len(removed), _CHUNK):
        ids += active.filter(effective_sha__in=removed[index:index + _CHUNK]).values_list("pk", flat=True)
    ImageTagChange.objects.filter(pk__in=ids).update(rewritten_at=timezone.now(), rewritten_by_run=run)
    return ids


def inventory_replace(*, repository: Repository, result: image_tags.ScanResult,
                      commit_sha: str) -> tuple[int, list[dict]]:
    """The repository's inventory becomes what ``commit_sha`` sets; entries that cannot be stored are
    refused with a reason (returned as problems) and the rest is kept. Returns (entries stored, refused)."""
    refused, entries = [], []
    for ref in result.inventory:
        reason = _too_long(ImageInventoryEntry, {"image": ref.image, "tag": ref.tag, "digest": ref.digest,
                                                 "file": ref.file, "location": ref.location})
        if reason:
            refused.append(_problem(ref.file, commit_sha, f"image reference refused: {reason}"))
            continue
        entries.append(ImageInventoryEntry(repository=repository, image=ref.image, tag=ref.tag or "",
                                           digest=ref.digest or "", file=ref.file, location=ref.location,
                                           source=ref.source, commit_sha=commit_sha))
    ImageInventoryEntry.objects.filter(repository=repository).delete()
    ImageInventoryEntry.objects.bulk_create(entries)
    return len(entries), refused


def image_tag_history(*, repository: Repository, along: str = ALONG_DEPLOY, image: str | None = None,
                      rewritten: bool = True) -> QuerySet:
    """Selector: the repository's recorded changes, newest first, read ``along`` one of ALONG_CHOICES.

    An image filter matches a registry move from or to it, so a moved image keeps its whole history.
    ``rewritten=False`` keeps only what the deploy revision now contains: no change a force-push took away,
    and no change back a force-push caused."""
    changes = repository.image_tag_changes.all()
    if image:
        changes = changes.filter(Q(image=image) | Q(old_image=image))
    if not rewritten:
        changes = changes.filter(rewritten_at__isnull=True, cause=ImageTagChange.Cause.COMMIT)
    if along == ALONG_COMMITS:
        return changes.filter(own_change=True).order_by("-committed_at", "-sequence", "-id")
    if along == ALONG_DEPLOY:
        changes = changes.filter(on_deploy_line=True)
    return changes.order_by("-sequence", "-id")


def current_change(*, repository_id: int, file: str, location: str, image: str) -> ImageTagChange | None:
    """The commit that set what the deploy revision now holds at a place: the newest change along the line
    that is still contained (not rewritten) and was made by a commit (not a force-push's change back)."""
    return (
        ImageTagChange.objects.filter(repository_id=repository_id, file=file, location=location, image=image,
                                      on_deploy_line=True, rewritten_at__isnull=True,
                                      cause=ImageTagChange.Cause.COMMIT)
        .exclude(kind=ImageTagChange.Kind.REMOVED).order_by("-sequence", "-id").first()
    )
