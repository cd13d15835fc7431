"""What actually runs: Argo CD's view of each infra repository, bumps followed to the cluster, drift.

Written by the read-back pass (console.services.readback), which reads clusters; never by a request.
"""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from console.models.images import ImageBump, ImageRelease
from console.models.organizations import Project
from console.models.repositories import Repository
from console.models.runs import ProvisioningRun, Trigger


class Deployment(models.Model):
    """The Argo CD Application of one infra repository as the last pass read it.

    When the cluster could not be read the last known values stay and ``error_*`` says why, so the page
    shows stale facts as stale rather than blanking them."""

    repository = models.OneToOneField(Repository, on_delete=models.CASCADE, related_name="deployment")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deployments")
    cluster_name = models.CharField(max_length=200, blank=True)
    application = models.CharField(max_length=253)
    argocd_namespace = models.CharField(max_length=63)
    argocd_url = models.CharField(max_length=500, blank=True)
    found = models.BooleanField(default=False, help_text="the Application exists in the cluster")
    sync_status = models.CharField(max_length=20, blank=True)
    health_status = models.CharField(max_length=20, blank=True)
    health_message = models.TextField(blank=True)
    synced_revision = models.CharField(max_length=64, blank=True)
    operation_phase = models.CharField(max_length=20, blank=True)
    operation_message = models.TextField(blank=True)
    operation_revision = models.CharField(max_length=64, blank=True)
    images = models.JSONField(default=list, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.TextField(blank=True)
    observed_at = models.DateTimeField(null=True, blank=True, help_text="last successful read")
    checked_at = models.DateTimeField(null=True, blank=True, help_text="last attempt, successful or not")
    changed_at = models.DateTimeField(null=True, blank=True, help_text="when sync or health last changed")

    class Meta:
        ordering = ["project_id", "application"]

    def __str__(self) -> str:
        return f"{self.application}: {self.sync_status or '?'} / {self.health_status or '?'}"

    @property
    def argocd_link(self) -> str:
        if not self.argocd_url:
            return ""
        return f"{self.argocd_url.rstrip('/')}/applications/{self.argocd_namespace}/{self.application}"

    @property
    def unreachable(self) -> bool:
        return bool(self.error_code)


class DeploymentHealth(models.TextChoices):
    """A project's deployments at a glance (the dashboard): the worst Application read back, or why none was.

    Not stored: console.selectors.with_deployment_health computes it in SQL from the Deployment rows."""

    HEALTHY = "healthy", _("Healthy / Synced")
    DEGRADED = "degraded", _("Degraded")
    MISSING = "missing", _("Missing")
    OUT_OF_SYNC = "out_of_sync", _("OutOfSync")
    PROGRESSING = "progressing", _("Progressing")
    UNKNOWN = "unknown", _("Unknown")
    NOT_READ = "not_read", _("not read back yet")
    NO_INFRA = "no_infra", _("no infra repository")
    NO_CLUSTER = "no_cluster", _("no cluster")


# What a person should look at: the dashboard counts these among the projects that need attention.
DEPLOYMENT_HEALTH_ATTENTION = (DeploymentHealth.DEGRADED, DeploymentHealth.MISSING,
                               DeploymentHealth.OUT_OF_SYNC)


class ProjectObservation(models.Model):
    """Per project: live quota usage and when drift was last checked (one row, replaced by each pass)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="observation")
    cluster_name = models.CharField(max_length=200, blank=True)
    quota_hard = models.JSONField(default=dict, blank=True)
    quota_used = models.JSONField(default=dict, blank=True)
    quota_observed_at = models.DateTimeField(null=True, blank=True)
    drift_checked_at = models.DateTimeField(null=True, blank=True)
    delivery_mode = models.CharField(max_length=20, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"observation of {self.project_id}"


class DriftReason(models.TextChoices):
    CHANGED = "changed", "changed by hand"
    MISSING = "missing", "missing"
    UNEXPECTED = "unexpected", "not rendered by the console"
    OUT_OF_SYNC = "out_of_sync", "Argo CD reports OutOfSync"
    ORPHANED = "orphaned", "orphaned resource (Argo CD)"


class DriftRecord(models.Model):
    """One object that differs from what the console renders; open until a pass no longer sees it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="drift_records")
    # Where the difference was seen: the cluster (direct), the platform repository (gitops) or Argo CD.
    source = models.CharField(max_length=20)
    api_version = models.CharField(max_length=200)
    kind = models.CharField(max_length=100)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253)
    reason = models.CharField(max_length=20, choices=DriftReason.choices)
    field_paths = models.JSONField(default=list, blank=True)
    detail = models.TextField(blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    correction_run = models.ForeignKey(ProvisioningRun, on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="drift_corrected")
    correction_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "source", "api_version", "kind", "namespace", "name", "reason"],
                condition=Q(resolved_at__isnull=True), name="one_open_drift_per_object",
            ),
        ]
        indexes = [models.Index(fields=["project", "resolved_at"])]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}: {self.get_reason_display()}"

    @property
    def key(self) -> tuple:
        return (self.source, self.api_version, self.kind, self.namespace, self.name, self.reason)


class RolloutStatus(models.TextChoices):
    WAITING = "waiting", "waiting for Argo CD"
    DEPLOYED = "deployed"
    FAILED = "failed"
    STUCK = "stuck", "stuck (not synced)"
    SUPERSEDED = "superseded", "superseded by a newer bump"


class BumpRollout(models.Model):
    """A pushed image bump followed into the cluster."""

    bump = models.OneToOneField(ImageBump, on_delete=models.CASCADE, related_name="rollout")
    status = models.CharField(max_length=20, choices=RolloutStatus.choices, default=RolloutStatus.WAITING)
    message = models.TextField(blank=True)
    synced_revision = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    # Each status the rollout entered, oldest first, as the pass saw it then: {"status", "at", "message",
    # "synced_revision", "sync_status", "health_status"}. The columns above hold only the latest; the image tag
    # ledger shows every step (stuck, then deployed) with its time.
    history = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    running_image = models.CharField(max_length=700, blank=True)
    running_at = models.DateTimeField(null=True, blank=True,
                                      help_text="first pass that saw the bumped image in the Application's images")
    # The failed or stuck status a bump_failed notification went out for, claimed by a conditional UPDATE so a
    # pass that runs again (or alongside) does not notify twice; cleared when the rollout leaves it.
    notified_status = models.CharField(max_length=20, blank=True)

    def __str__(self) -> str:
        return f"rollout of bump {self.bump_id}: {self.status}"


class ReleaseDeployment(models.Model):
    """A built image seen running (``status.summary.images``): its redeploy warning reads "deployed"."""

    release = models.OneToOneField(ImageRelease, on_delete=models.CASCADE, related_name="deployment")
    repository = models.ForeignKey(Repository, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    running_image = models.CharField(max_length=700)
    deployed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.running_image} running"


class ReadbackPass(models.Model):
    """One pass over every project: which clusters answered, counts, and how long it took."""

    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.SCHEDULE)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {cluster name: {"reachable": bool, "error_code": ..., "error": ..., "list_calls": n, "projects": n}}
    clusters = models.JSONField(default=dict, blank=True)
    projects = models.PositiveIntegerField(default=0)
    drift_open = models.PositiveIntegerField(default=0)
    corrections = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"read-back pass #{self.pk}"
