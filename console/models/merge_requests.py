"""Bumps by merge request (issue #12): which infra repositories require them, and each bump's request."""

from __future__ import annotations

from django.db import models

from console.models.images import ImageBump
from console.models.repositories import Repository
from console.models.runs import SyncRun


class MergeRequestSettings(models.Model):
    """An infra repository whose deploy branch is protected at its external GitLab: bumps push a branch and
    open a merge request there (with the repository's token) instead of pushing to the branch."""

    repository = models.OneToOneField(Repository, on_delete=models.CASCADE, related_name="merge_request_settings")
    enabled = models.BooleanField(default=True)
    gitlab_url = models.CharField(max_length=500, help_text="the external GitLab, e.g. https://gitlab.example.com")
    project_path = models.CharField(max_length=500, help_text="the infra repository's path there, e.g. team/deploy")

    def __str__(self) -> str:
        return f"merge requests for {self.repository} at {self.gitlab_url}/{self.project_path}"


class BumpMergeRequest(models.Model):
    class State(models.TextChoices):
        OPENED = "opened"
        MERGED = "merged"
        CLOSED = "closed"
        LOCKED = "locked"

    bump = models.OneToOneField(ImageBump, on_delete=models.CASCADE, related_name="merge_request")
    iid = models.PositiveIntegerField()
    url = models.CharField(max_length=500)
    source_branch = models.CharField(max_length=200)
    target_branch = models.CharField(max_length=200)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPENED)
    merge_commit_sha = models.CharField(max_length=64, blank=True)
    # The sync asked for once merged; the bump is complete when it has mirrored the merge commit.
    sync_run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["state"], name="bump_mr_open", condition=models.Q(state="opened"))]

    def __str__(self) -> str:
        return f"!{self.iid} for bump #{self.bump_id} ({self.state})"
