from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.db.models import Q

from console.crypto import EncryptedTextField
from console.models.validators import DESCRIPTION_MAX_LENGTH, validate_display_name, validate_dns_label


class Organization(models.Model):
    slug = models.CharField(max_length=40, unique=True, validators=[validate_dns_label])
    name = models.CharField(max_length=200, validators=[validate_display_name])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Project(models.Model):
    class Status(models.TextChoices):
        PROVISIONING = "provisioning", _("Provisioning")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        ARCHIVED = "archived", _("Archived")

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="projects")
    slug = models.CharField(max_length=40, validators=[validate_dns_label])
    name = models.CharField(max_length=200, validators=[validate_display_name])
    description = models.TextField(blank=True, validators=[MaxLengthValidator(DESCRIPTION_MAX_LENGTH)])
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROVISIONING)
    namespace = models.CharField(max_length=63, blank=True, help_text="Kubernetes namespace, set on creation")
    # Read-only forge credential Argo CD clones the project's repositories with (GitLab deploy token).
    argocd_username = models.CharField(max_length=200, blank=True)
    argocd_token = EncryptedTextField(blank=True)
    # The internal forge's id of the project's group (GitLab group id), stored at provisioning: once known,
    # a first sync creates its mirror in the group without checking the group path first.
    forge_group_id = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization__slug", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="project_slug_unique_in_organization"),
            # "a-b"/"c" and "a"/"b-c" both read as namespace "a-b-c": the second one must be refused.
            models.UniqueConstraint(fields=["namespace"], condition=~Q(namespace=""), name="project_namespace_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"

    @property
    def full_slug(self) -> str:
        return f"{self.organization.slug}/{self.slug}"


class Role(models.TextChoices):
    # Ordered from least to most powerful; ROLE_RANK below relies on it.
    READER = "reader", _("Reader")
    DEVELOPER = "developer", _("Developer")
    MAINTAINER = "maintainer", _("Maintainer")
    OWNER = "owner", _("Owner")


ROLE_RANK = {role: rank for rank, role in enumerate(Role.values)}


class Membership(models.Model):
    """A user's role in an organization (project is null: every project in it) or in one project.

    `source` says who gave it: someone in the console (it stays until someone in the console changes it) or
    the user's groups at the OpenID Connect provider (recomputed at each of their sign-ins)."""

    class Source(models.TextChoices):
        CONSOLE = "console", "console"
        OIDC = "oidc", "identity provider groups"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="memberships", null=True, blank=True
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CONSOLE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__slug", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"],
                condition=Q(project__isnull=True),
                name="membership_unique_per_organization",
            ),
            models.UniqueConstraint(
                fields=["user", "project"],
                condition=Q(project__isnull=False),
                name="membership_unique_per_project",
            ),
        ]

    def __str__(self) -> str:
        scope = self.project or self.organization
        return f"{self.user} is {self.role} of {scope}"
