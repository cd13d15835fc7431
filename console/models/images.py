"""Image tags in infra repositories: the durable history, the current inventory, releases waiting for a bump,
and bumps the console writes back."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from console.models.organizations import Project
from console.models.repositories import Repository
from console.models.runs import RunBase, SyncRun


class ImageTagChange(models.Model):
    class Kind(models.TextChoices):
        ADDED = "added"
        CHANGED = "changed"
        REMOVED = "removed"

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="image_tag_changes")
    sync_run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="image_tag_changes")
    bump = models.ForeignKey("ImageBump", on_delete=models.SET_NULL, null=True, blank=True, related_name="changes")
    file = models.CharField(max_length=500)
    location = models.CharField(max_length=500)
    image = models.CharField(max_length=500, db_index=True)
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
    # Position in the scan (oldest first), so commits with equal timestamps keep their real order.
    sequence = models.PositiveIntegerField(default=0)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-committed_at", "-sequence", "-id"]
        constraints = [
            # Recording is idempotent: a retried or repeated scan cannot record a change twice.
            models.UniqueConstraint(fields=["repository", "commit_sha", "file", "location"],
                                    name="image_tag_change_once_per_commit"),
        ]
        indexes = [models.Index(fields=["repository", "image"])]

    def __str__(self) -> str:
        return f"{self.image} {self.old_tag or '-'} -> {self.new_tag or '-'} ({self.commit_sha[:8]})"


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
        APP_SYNC = "app_sync", "new commits in the application repository"
        CI_REPORT = "ci_report", "reported by CI after a build"

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
