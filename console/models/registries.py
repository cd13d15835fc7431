"""Container registries a project watches (issue #12): the registry, its images, the tags discovered, the tag
policy per image and infra repository, and the watch runs."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db import models
from django.db.models import Q

from console.crypto import EncryptedTextField
from console.models.organizations import Project
from console.models.repositories import Repository
from console.models.runs import RunBase
from console.models.validators import validate_dns_label


class ContainerRegistry(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="container_registries")
    name = models.CharField(max_length=40, validators=[validate_dns_label])
    url = models.CharField(max_length=500, help_text="https://registry.example.com (the /v2/ API's base)")
    username = models.CharField(max_length=200, blank=True)
    token = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="registry_name_unique_in_project")]

    def __str__(self) -> str:
        return f"{self.project}/{self.name}" if self.project_id else self.name

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def token_is_set(self) -> bool:
        return bool(self.token)


class WatchedImage(models.Model):
    registry = models.ForeignKey(ContainerRegistry, on_delete=models.CASCADE, related_name="images")
    repository = models.CharField(max_length=255, help_text="the image repository in the registry, e.g. team/app")
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=60, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["registry_id", "repository"]
        constraints = [models.UniqueConstraint(fields=["registry", "repository"], name="watched_image_once")]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """The image as infra repositories write it: registry host and path."""
        return f"{self.registry.host}/{self.repository}"


class DiscoveredTag(models.Model):
    """A tag the watch saw once; its digest and build time as read then (the ledger's "registry" step)."""

    image = models.ForeignKey(WatchedImage, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(max_length=128)
    digest = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(null=True, blank=True, help_text="the image config's build time")
    discovered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["image_id", "-discovered_at", "tag"]
        constraints = [models.UniqueConstraint(fields=["image", "tag"], name="discovered_tag_once")]

    def __str__(self) -> str:
        return f"{self.image_id}:{self.tag}"


class TagPolicyKind(models.TextChoices):
    SEMVER = "semver", "semantic version range"
    REGEX = "regex", "regular expression, sorted by a capture"
    LATEST_BUILD = "latest_build", "newest build"


class TagPolicy(models.Model):
    """Which tag of a watched image an infra repository should deploy, and whether the console bumps it on
    its own (``auto_bump``) or opens a warning with a one-click bump (the default)."""

    image = models.ForeignKey(WatchedImage, on_delete=models.CASCADE, related_name="policies")
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tag_policies")
    kind = models.CharField(max_length=20, choices=TagPolicyKind.choices, default=TagPolicyKind.SEMVER)
    constraint = models.CharField(max_length=200, blank=True, help_text="semver: '~1.4', '>=2.0 <3'")
    pattern = models.CharField(max_length=300, blank=True, help_text="regex (with a capture) or latest-build filter")
    include_prereleases = models.BooleanField(default=False)
    auto_bump = models.BooleanField(default=False)
    selected_tag = models.CharField(max_length=128, blank=True)
    selected_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True, help_text="what the last selection led to")

    class Meta:
        ordering = ["image_id", "repository_id"]
        constraints = [models.UniqueConstraint(fields=["image", "repository"], name="one_tag_policy_per_place")]

    def __str__(self) -> str:
        return f"{self.kind} {self.constraint or self.pattern} for {self.image_id} in {self.repository_id}"


class RegistryWatchRun(RunBase):
    registry = models.ForeignKey(ContainerRegistry, on_delete=models.CASCADE, related_name="watch_runs")
    result = models.JSONField(default=dict, blank=True)

    class Meta(RunBase.Meta):
        constraints = [
            models.UniqueConstraint(fields=["registry"], condition=Q(status="queued"),
                                    name="one_queued_watch_per_registry"),
            models.UniqueConstraint(fields=["registry"], condition=Q(status="running"),
                                    name="one_running_watch_per_registry"),
        ]

    def __str__(self) -> str:
        return f"registry watch #{self.pk} of {self.registry} ({self.status})"
