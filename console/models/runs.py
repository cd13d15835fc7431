"""Run records: append-only history of every sync and provisioning, each ending with its reason."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from console.models.choices import CachedChoiceLabels
from console.models.organizations import Project
from console.models.repositories import Repository


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    NO_CHANGE = "no_change", _("No Change")
    FAILED = "failed", _("Failed")


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
FINISHED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.NO_CHANGE, RunStatus.FAILED)


class Trigger(models.TextChoices):
    # Explicit labels: the derived ones read "Ci" and "Api".
    PORTAL = "portal", _("Portal")
    API = "api", _("API")
    ADMIN = "admin", _("Admin")
    CI = "ci", _("GitLab CI")
    WEBHOOK = "webhook", _("Webhook")
    SCHEDULE = "schedule", _("Schedule")
    INITIAL = "initial", _("Initial")


class ProvisioningCause(models.TextChoices):
    """Why a provisioning run was asked for; the trigger only says through which interface."""

    PROJECT_CREATED = "project_created", _("project created")
    REPOSITORY_ADDED = "repository_added", _("repository added")
    REPOSITORY_UPDATED = "repository_updated", _("repository updated")
    REPOSITORY_REMOVED = "repository_removed", _("repository removed")
    QUOTA_CHANGED = "quota_changed", _("quota changed")
    MANUAL = "manual", _("manual re-provision")
    ADMIN = "admin", _("admin action")
    PROJECT_ARCHIVED = "project_archived", _("project archived")
    CLUSTER_MOVED = "cluster_moved", _("moved to another cluster")
    DRIFT_CORRECTION = "drift_correction", _("drift correction")


class ImageScanStatus(models.TextChoices):
    """The image scan step of a sync. It never changes the run's status (the mirror is what that reports), so
    a failed scan is its own visible outcome beside it, and the next sync scans again from the last success."""

    NONE = "", _("no scan")
    SUCCEEDED = "succeeded", _("scanned")
    UNCHANGED = "unchanged", _("nothing new to scan")
    FAILED = "failed", _("image scan failed")


class RunBase(CachedChoiceLabels, models.Model):
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who or what asked when there is no user: a CI token name, a JWT subject, a pipeline URL.
    trigger_detail = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # When the current attempt was claimed: the stuck-run sweeper measures from here, not from the first start.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Renewed every few seconds by the task working on the run: once it lapses, the worker is gone and the
    # sweeper hands the run to another worker within seconds instead of waiting for the stuck deadline.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.TextField(blank=True)
    # Requests that arrived while this run was queued and joined it instead of queuing another.
    joined_requests = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        abstract = True
        ordering = ["-queued_at", "-id"]

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class SyncRun(RunBase):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="sync_runs")
    head_sha = models.CharField(max_length=64, blank=True)
    # What image tag detection found for an infra repository: counts and problems, or why it failed.
    image_scan = models.JSONField(default=dict, blank=True)
    image_scan_status = models.CharField(max_length=20, choices=ImageScanStatus.choices, blank=True, default="")
    # The internal repository's branches and tags ({ref: sha}) as this run left them, kept when it recorded
    # changes: the next sync reports its changes against this, not against what the forge holds, so a push
    # that landed before its worker died is still recorded (by the run that redoes it).
    refs = models.JSONField(null=True, blank=True)

    class Meta(RunBase.Meta):
        constraints = [
            # The database, not the broker, guarantees one queued and one running sync per repository.
            models.UniqueConstraint(
                fields=["repository"], condition=Q(status="queued"), name="one_queued_sync_per_repository"
            ),
            models.UniqueConstraint(
                fields=["repository"], condition=Q(status="running"), name="one_running_sync_per_repository"
            ),
        ]
        # Each matches a history's ORDER BY (newest first, id breaking ties) so that a page, and a keyset
        # page deep in the history, reads a few index entries instead of sorting every run.
        indexes = [
            models.Index(F("repository"), F("queued_at").desc(), F("id").desc(), name="syncrun_repo_history"),
            models.Index(F("queued_at").desc(), F("id").desc(), name="syncrun_history"),
            models.Index(F("status"), F("queued_at").desc(), F("id").desc(), name="syncrun_status_history"),
        ]

    def __str__(self) -> str:
        return f"sync #{self.pk} of {self.repository} ({self.status})"

    @property
    def image_scan_failed(self) -> bool:
        return self.image_scan_status == ImageScanStatus.FAILED


class RefChangeKind(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")
    DELETED = "deleted", _("Deleted")
    FORCED = "forced", _("Forced")


class RefChange(CachedChoiceLabels, models.Model):
    sync_run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="ref_changes")
    ref = models.CharField(max_length=500)
    old_sha = models.CharField(max_length=64, blank=True)
    new_sha = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=20, choices=RefChangeKind.choices)

    class Meta:
        ordering = ["sync_run_id", "ref"]

    def __str__(self) -> str:
        return f"{self.ref} {self.kind} {self.old_sha[:8] or '-'} -> {self.new_sha[:8] or '-'}"


class ProvisioningRun(RunBase):
    class Action(models.TextChoices):
        PROVISION = "provision", _("Provision")
        ARCHIVE = "archive", _("Archive")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="provisioning_runs")
    action = models.CharField(max_length=20, choices=Action.choices, default=Action.PROVISION)
    # The first request's cause; ``causes`` lists every request the run serves (joined ones too), each
    # ``{"cause": ..., "subject": ...}`` (a repository name, say), and removed repositories' internal paths.
    cause = models.CharField(max_length=30, choices=ProvisioningCause.choices, default=ProvisioningCause.MANUAL)
    causes = models.JSONField(default=list, blank=True)
    # What the run did: forge objects created, delivery commit and files, so a no-op is visible as one.
    result = models.JSONField(default=dict, blank=True)

    class Meta(RunBase.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=Q(status="queued"), name="one_queued_provisioning_per_project"
            ),
            models.UniqueConstraint(
                fields=["project"], condition=Q(status="running"), name="one_running_provisioning_per_project"
            ),
        ]
        indexes = [
            models.Index(F("project"), F("queued_at").desc(), F("id").desc(), name="provisioningrun_history"),
        ]

    def __str__(self) -> str:
        return f"{self.action} #{self.pk} of {self.project} ({self.status})"

    @property
    def cause_labels(self) -> list[str]:
        """Each distinct reason once, in order: "repository added (backend)", "manual re-provision"."""
        labels = dict(ProvisioningCause.choices)
        seen: list[str] = []
        for entry in self.causes or [{"cause": self.cause}]:
            label = str(labels.get(entry.get("cause"), entry.get("cause") or ""))
            if entry.get("subject"):
                label = f"{label} ({entry['subject']})"
            if label and label not in seen:
                seen.append(label)
        return seen

    @property
    def cause_summary(self) -> str:
        return ", ".join(self.cause_labels)
