"""API tokens of users (`Authorization: Token <secret>`): only a SHA-256 of the secret is stored; each one
expires and can be revoked, like CI tokens."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from console.crypto import SecretHashField


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="what uses it, e.g. 'deploy script'")
    prefix = models.CharField(max_length=16, help_text="first characters of the secret, to recognise it")
    secret_hash = SecretHashField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user_id", "-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"API token {self.prefix}… of {self.user}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
