"""What lets a CI pipeline or a forge webhook trigger a sync: per-repository CI tokens and the GitLab
instances whose CI id_tokens (JWTs) are trusted."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from console.models.validators import validate_external_url


class CiToken(models.Model):
    """A bearer secret a pipeline uses to sync one repository. Only a SHA-256 of the secret is stored."""

    repository = models.ForeignKey("console.Repository", on_delete=models.CASCADE, related_name="ci_tokens")
    name = models.CharField(max_length=100, help_text="what uses it, e.g. 'gitlab-ci main pipeline'")
    prefix = models.CharField(max_length=16, help_text="first characters of the secret, to recognise it")
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["repository_id", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["repository", "name"], condition=Q(revoked_at__isnull=True),
                name="ci_token_active_name_unique_in_repository",
            )
        ]

    def __str__(self) -> str:
        return f"CI token {self.name!r} ({self.prefix}…) of {self.repository}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired


class TrustedGitLabInstance(models.Model):
    """A GitLab whose CI id_tokens are accepted; the issuer must equal the token's `iss` claim exactly."""

    name = models.CharField(max_length=100, unique=True)
    issuer = models.CharField(
        max_length=300, unique=True, validators=[validate_external_url],
        help_text="the instance URL as GitLab writes it in `iss`, e.g. https://gitlab.example.com",
    )
    jwks_url = models.CharField(
        max_length=500, blank=True, validators=[validate_external_url],
        help_text="leave empty for <issuer>/oauth/discovery/keys",
    )
    audience = models.CharField(
        max_length=200, help_text="the `aud` pipelines must request in `id_tokens`, usually the console URL"
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "trusted GitLab instance"

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer})"

    def save(self, *args, **kwargs):
        self.issuer = self.issuer.rstrip("/")
        super().save(*args, **kwargs)

    @property
    def effective_jwks_url(self) -> str:
        return self.jwks_url or f"{self.issuer.rstrip('/')}/oauth/discovery/keys"
