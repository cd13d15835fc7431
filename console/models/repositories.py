from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from console.crypto import EncryptedTextField
from console.models.organizations import Project
from console.models.validators import validate_dns_label, validate_external_url, validate_repo_relative_path


class DeployKind(models.TextChoices):
    NONE = "", "not an infra repository"
    HELM = "helm"
    KUSTOMIZE = "kustomize"


def default_value_files() -> list[str]:
    return []


class Repository(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="repositories")
    name = models.CharField(
        max_length=40, validators=[validate_dns_label], help_text="internal name, unique in the project"
    )
    external_url = models.CharField(max_length=500, validators=[validate_external_url])
    is_private = models.BooleanField(default=False)
    username = models.CharField(max_length=200, blank=True)
    token = EncryptedTextField(blank=True)
    is_infra = models.BooleanField(default=False)
    deploy_kind = models.CharField(max_length=20, choices=DeployKind.choices, blank=True, default="")
    deploy_path = models.CharField(max_length=300, blank=True, default=".", validators=[validate_repo_relative_path])
    deploy_revision = models.CharField(max_length=200, blank=True, default="HEAD")
    helm_value_files = models.JSONField(default=default_value_files, blank=True)
    internal_path = models.CharField(max_length=300, blank=True, help_text="full path in the internal forge")
    internal_url = models.CharField(max_length=500, blank=True)
    default_branch = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "name"]
        verbose_name_plural = "repositories"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="repository_name_unique_in_project"),
            models.CheckConstraint(
                condition=models.Q(is_infra=True) | models.Q(deploy_kind=""),
                name="repository_deploy_kind_only_for_infra",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project}/{self.name}" if self.project_id else self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if not self.is_infra and self.deploy_kind:
            errors["deploy_kind"] = "a deploy kind is only allowed on an infra repository (set is_infra)"
        if self.is_infra and not self.deploy_kind:
            errors["deploy_kind"] = "an infra repository needs a deploy kind: helm or kustomize"
        if self.deploy_kind != DeployKind.HELM and self.helm_value_files:
            errors["helm_value_files"] = "value files only apply to Helm infra repositories"
        if not isinstance(self.helm_value_files, list) or not all(
            isinstance(f, str) and f for f in self.helm_value_files
        ):
            errors["helm_value_files"] = "must be a list of file paths"
        else:
            for value_file in self.helm_value_files:
                try:
                    validate_repo_relative_path(value_file)
                except ValidationError:
                    errors["helm_value_files"] = f"{value_file!r} must be a path inside the repository"
        if self.is_private and not self.token:
            errors["token"] = "a private repository needs a token (and usually a username)"
        if not self.is_private and (self.token or self.username):
            errors["is_private"] = "credentials were given: mark the repository private"
        if errors:
            raise ValidationError(errors)

    @property
    def token_is_set(self) -> bool:
        return bool(self.token)
