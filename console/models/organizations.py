from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.db.models import Q

from console.crypto import EncryptedTextField
from console.models import quotas
from console.models.validators import DESCRIPTION_MAX_LENGTH, validate_display_name, validate_dns_label


class Organization(models.Model):
    slug = models.CharField(max_length=40, unique=True, validators=[validate_dns_label])
    name = models.CharField(max_length=200, validators=[validate_display_name])
    # The most any one project of the organization may ask for; set by platform admins.
    quota_limit_cpu = quotas.quantity_field("cpu", quotas.default_limit_cpu, quotas.LIMIT_HELP["cpu"])
    quota_limit_memory = quotas.quantity_field("memory", quotas.default_limit_memory, quotas.LIMIT_HELP["memory"])
    quota_limit_storage = quotas.quantity_field("storage", quotas.default_limit_storage, quotas.LIMIT_HELP["storage"])
    quota_limit_pods = quotas.count_field("pods", quotas.default_limit_pods, quotas.LIMIT_HELP["pods"])
    quota_limit_services = quotas.count_field("services", quotas.default_limit_services, quotas.LIMIT_HELP["services"])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def quota_limits(self) -> dict:
        return {resource: getattr(self, f"quota_limit_{resource}") for resource in quotas.QUOTA_RESOURCES}

    def clean(self) -> None:
        limits = self.quota_limits
        errors = quotas.quota_errors(limits, prefix="quota_limit_")
        for resource in quotas.QUANTITY_RESOURCES:
            setattr(self, f"quota_limit_{resource}", limits[resource])
        if not errors and self.pk and self._limits_changed(limits):
            # Lowering a limit below what a project already has would leave that project unable to save
            # any edit: say which project to reduce first.
            fields = ["slug", *(f"quota_{resource}" for resource in quotas.QUOTA_RESOURCES)]
            live = self.projects.exclude(status=Project.Status.ARCHIVED).order_by("slug").only(*fields)
            for project in live.iterator():
                over = quotas.quota_errors(project.quota, limits=limits, prefix="quota_limit_")
                for field, error in over.items():
                    errors.setdefault(field, ValidationError(
                        "project %(project)s already has more (%(error)s): lower its quota first",
                        code="quota_in_use", params={"project": project.slug, "error": error.messages[0]},
                    ))
        if errors:
            raise ValidationError(errors)

    def _limits_changed(self, limits: dict) -> bool:
        fields = [f"quota_limit_{resource}" for resource in quotas.QUOTA_RESOURCES]
        stored = type(self).objects.filter(pk=self.pk).values_list(*fields).first()
        return stored is None or list(stored) != [limits[resource] for resource in quotas.QUOTA_RESOURCES]


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
    # Null: the platform default (the cluster marked default, or the embedded one when none is registered).
    # Changed only through console.services.clusters.project_move_cluster, which moves the objects too.
    cluster = models.ForeignKey("console.Cluster", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="projects", editable=False)
    # The project's ResourceQuota, within its organization's limits (docs/tenant-baseline.md).
    quota_cpu = quotas.quantity_field("cpu", quotas.default_quota_cpu, quotas.HELP["cpu"])
    quota_memory = quotas.quantity_field("memory", quotas.default_quota_memory, quotas.HELP["memory"])
    quota_storage = quotas.quantity_field("storage", quotas.default_quota_storage, quotas.HELP["storage"])
    quota_pods = quotas.count_field("pods", quotas.default_quota_pods, quotas.HELP["pods"])
    quota_services = quotas.count_field("services", quotas.default_quota_services, quotas.HELP["services"])
    # provisioning.render_cache.spec_fingerprint of the manifests last delivered: equal at the next
    # provisioning means nothing to render nor deliver.
    manifests_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    # Set and cleared only by console.services.project_locks: while set, console.authorization refuses every
    # write on the project and its repositories (an incident, an audit, a freeze before a migration).
    locked_at = models.DateTimeField(null=True, blank=True, editable=False)
    locked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", editable=False)
    lock_reason = models.TextField(blank=True, editable=False)
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

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    @property
    def quota(self) -> dict:
        return {resource: getattr(self, f"quota_{resource}") for resource in quotas.QUOTA_RESOURCES}

    def clean(self) -> None:
        values = self.quota
        limits = self.organization.quota_limits if self.organization_id else None
        errors = quotas.quota_errors(values, limits=limits, prefix="quota_")
        for resource in quotas.QUANTITY_RESOURCES:
            setattr(self, f"quota_{resource}", values[resource])
        if errors:
            raise ValidationError(errors)


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
