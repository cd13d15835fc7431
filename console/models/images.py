"""Image tags in infra repositories: the durable history, the current inventory, releases waiting for a bump,
and bumps the console writes back."""

from __future__ import annotations

import hashlib

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.db.models import Q

from console.models.organizations import Project
from console.models.repositories import Repository
from console.models.runs import RunBase, SyncRun


class ImageTagChange(models.Model):
    """One change of an image reference in an infra repository's deploy configuration.

    ``commit_sha`` is the commit that authored the change; ``effective_sha`` the commit of the deploy
    revision's first-parent line where it took effect (itself, or the merge that brought it in). Rows with
    ``on_deploy_line`` read in ``sequence`` order give each change of the deployed value once; rows with
    ``own_change`` are what each commit changed. A force-push that removes commits marks their rows
    ``rewritten_at`` and records the change back (``cause=force_push``): history is kept, never deleted.
    """

    class Kind(models.TextChoices):
        ADDED = "added", _("Added")
        CHANGED = "changed", _("Changed")
        REMOVED = "removed", _("Removed")

    class Cause(models.TextChoices):
        COMMIT = "commit", _("a commit")
        FORCE_PUSH = "force_push", _("a force-push removed the commits that set the value")

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="image_tag_changes")
    sync_run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="image_tag_changes")
    bump = models.ForeignKey("ImageBump", on_delete=models.SET_NULL, null=True, blank=True, related_name="changes")
    file = models.CharField(max_length=500)
    location = models.CharField(max_length=500)
    image = models.CharField(max_length=500, db_index=True)
    old_image = models.CharField(max_length=500, blank=True, help_text="the image before a registry move")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    old_tag = models.CharField(max_length=200, blank=True)
    new_tag = models.CharField(max_length=200, blank=True)
    old_digest = models.CharField(max_length=100, blank=True)
    new_digest = models.CharField(max_length=100, blank=True)
    commit_sha = models.CharField(max_length=64)
    commit_author = models.CharField(max_length=200, blank=True)
    commit_email = models.CharField(max_length=200, blank=True)
    committed_at = models.DateTimeField()
    commit_subject = models.CharField(max_length=500, blank=True)
    effective_sha = models.CharField(max_length=64, blank=True)
    effective_subject = models.CharField(max_length=500, blank=True)
    effective_committed_at = models.DateTimeField(null=True, blank=True)
    on_deploy_line = models.BooleanField(default=True)
    own_change = models.BooleanField(default=True)
    cause = models.CharField(max_length=20, choices=Cause.choices, default=Cause.COMMIT)
    # A digest of (file, location, image): the unique key stays small whatever the lengths of the three.
    place_key = models.CharField(max_length=64, blank=True)
    rewritten_at = models.DateTimeField(null=True, blank=True)
    rewritten_by_run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True,
                                         related_name="+")
    # Order of recording across the repository's scans, oldest first: the order along the deploy line.
    sequence = models.PositiveIntegerField(default=0)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-committed_at", "-sequence", "-id"]
        constraints = [
            # Recording is idempotent: a change a commit made takes effect once per line commit. Rows a
            # force-push took away are history; the same commits merged again are new rows.
            models.UniqueConstraint(
                fields=["repository", "commit_sha", "effective_sha", "place_key", "on_deploy_line"],
                condition=Q(rewritten_at__isnull=True, cause="commit"), name="image_tag_change_once_per_commit",
            ),
        ]
        indexes = [
            models.Index(fields=["repository", "image"]),
            models.Index(fields=["repository", "sequence"]),
        ]

    def __str__(self) -> str:
        return f"{self.image} {self.old_tag or '-'} -> {self.new_tag or '-'} ({self.commit_sha[:8]})"

    @property
    def rewritten(self) -> bool:
        return self.rewritten_at is not None


class ImageInventoryEntry(models.Model):
    """Where each image is set in an infra repository at its latest synced deploy commit."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="image_inventory")
    image = models.CharField(max_length=500)
    tag = models.CharField(max_length=200, blank=True)
    digest = models.CharField(max_length=100, blank=True)
    file = models.CharField(max_length=500)
    location = models.CharField(max_length=500)
    source = models.CharField(max_length=40)
    commit_sha = models.CharField(max_length=64)

    class Meta:
        ordering = ["repository_id", "image", "file", "location"]

    def __str__(self) -> str:
        return f"{self.image}:{self.tag or self.digest} in {self.file} {self.location}"


class ImageRelease(models.Model):
    """A new image (or new application commits) that no infra repository has deployed yet.

    While unresolved it is a warning: Argo CD redeploys nothing until an infra repository's tag changes.
    """

    class Source(models.TextChoices):
        APP_SYNC = "app_sync", _("new commits in the application repository")
        CI_REPORT = "ci_report", _("reported by CI after a build")
        REGISTRY = "registry", _("a new tag the registry watch selected")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="image_releases")
    repository = models.ForeignKey(Repository, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="image_releases")
    image = models.CharField(max_length=500)
    tag = models.CharField(max_length=200, blank=True, help_text="empty when only new commits are known")
    commit_sha = models.CharField(max_length=64, blank=True)
    # When the application commit was made: an infra commit after it is a bump for it (even if synced first).
    committed_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    reported_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(ImageTagChange, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")

    class Meta:
        ordering = ["-reported_at", "-id"]
        constraints = [
            # One open warning per image and project: a newer release replaces the older one.
            models.UniqueConstraint(fields=["project", "image"], condition=Q(resolved_at__isnull=True),
                                    name="one_open_release_per_image"),
        ]

    def __str__(self) -> str:
        return f"{self.image}:{self.tag or self.commit_sha[:8]} waiting in {self.project}"


class ImageBump(RunBase):
    """A request to change an image tag at an infra repository's external source."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="image_bumps")
    image = models.CharField(max_length=500)
    tag = models.CharField(max_length=200)
    file = models.CharField(max_length=500, blank=True)
    location = models.CharField(max_length=500, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    old_tag = models.CharField(max_length=200, blank=True)
    commit_sha = models.CharField(max_length=64, blank=True)
    sync_run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta(RunBase.Meta):
        constraints = [
            # Bumps of one repository push one at a time; a second waits its turn (it is not merged).
            models.UniqueConstraint(fields=["repository"], condition=Q(status="running"),
                                    name="one_running_bump_per_repository"),
        ]

    def __str__(self) -> str:
        return f"bump #{self.pk} {self.image} -> {self.tag} in {self.repository} ({self.status})"


def place_key(file: str, location: str, image: str) -> str:
    """ImageTagChange.place_key: the same digest the 0002 migration gave earlier rows."""
    return hashlib.sha256("\0".join((file, location, image)).encode()).hexdigest()
