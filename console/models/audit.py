from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One change made through any interface: who, through what, what, and before/after where it matters."""

    class Interface(models.TextChoices):
        PORTAL = "portal", _("Portal")
        API = "api", _("API")
        ADMIN = "admin", _("Admin")
        CI = "ci", _("GitLab CI")
        WEBHOOK = "webhook", _("Webhook")
        SYSTEM = "system", _("DSO Console")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="username, token name or JWT subject, kept if the user goes")
    interface = models.CharField(max_length=20, choices=Interface.choices)
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=80)
    target_id = models.CharField(max_length=80)
    target_repr = models.CharField(max_length=300)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_repr}"
