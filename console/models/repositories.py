from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from console.crypto import EncryptedTextField
from console.models.organizations import Project
from console.models.validators import (
    validate_dns_label,
    validate_external_url,
    validate_git_revision,
    validate_repo_relative_path,
)


class DeployKind(models.TextChoices):
    NONE = "", _("not an infra repository")
    HELM = "helm", _("Helm")
    KUSTOMIZE = "kustomize", _("Kustomize")


def default_value_files() -> list[str]:
    return []


def default_ci_project_paths() -> list[str]:
    return []


GITLAB_PROJECT_PATH = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+$")


def _is_ci_project_entry(entry) -> bool:
    """'group/project', or '<trusted GitLab instance name>:group/project' (paths never hold a colon)."""
    if not isinstance(entry, str):
        return False
    instance, colon, path = entry.rpartition(":")
    return bool(GITLAB_PROJECT_PATH.match(path)) and (not colon or bool(instance.strip()))


def validate_ci_project_paths(value) -> None:
    if not isinstance(value, list) or not all(_is_ci_project_entry(entry) for entry in value):
        raise ValidationError(
            _("must be a list of GitLab project paths such as 'acme/shop-backend', or "
                  "'gitlab:acme/shop-backend' to name the trusted GitLab instance"), code="invalid_project_paths"
        )


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
    deploy_revision = models.CharField(max_length=200, blank=True, default="HEAD", validators=[validate_git_revision])
    helm_value_files = models.JSONField(default=default_value_files, blank=True)
    internal_path = models.CharField(max_length=300, blank=True, help_text="full path in the internal forge")
    internal_url = models.CharField(max_length=500, blank=True)
    # The internal forge's id of the mirror (GitLab project id), stored when first ensured: a sync checks
    # it with one request instead of walking groups and paths again. Null: not known yet (look up by path).
    forge_id = models.BigIntegerField(null=True, blank=True, editable=False)
    default_branch = models.CharField(max_length=200, blank=True)
    # Application repositories: the image their CI builds, so new commits can warn until an infra repo bumps it.
    image_name = models.CharField(max_length=500, blank=True)
    # Infra repositories: the deploy commit image tags were last scanned at (the next scan starts there).
    images_scanned_sha = models.CharField(max_length=64, blank=True)
    # CI triggers (issue #3): GitLab projects whose id_tokens may sync this repository, and whether only
    # pipelines of protected refs may; the webhook secret is write-only (see services.webhooks).
    ci_allowed_project_paths = models.JSONField(
        "CI allowed project paths", default=default_ci_project_paths, blank=True,
        validators=[validate_ci_project_paths],
    )
    ci_protected_refs_only = models.BooleanField("CI protected refs only", default=True)
    webhook_secret = EncryptedTextField(blank=True, editable=False)
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
                except ValidationError as exc:
                    errors["helm_value_files"] = f"{value_file!r}: {exc.messages[0]}"
        if self.is_private and not self.token:
            errors["token"] = "a private repository needs a token (and usually a username)"
        from console.network import repository_url_problem

        # Which hosts the worker may be sent to: public ones, not the platform's own network or forge.
        if problem := repository_url_problem(self.external_url):
            errors["external_url"] = problem
        if errors:
            raise ValidationError(errors)

    @property
    def token_is_set(self) -> bool:
        return bool(self.token)
