"""Where a project's events are sent (a webhook signed with HMAC, or e-mail) and every delivery made."""

from __future__ import annotations

from django.db import models

from console.crypto import EncryptedTextField
from console.models.organizations import Project


class NotificationEvent(models.TextChoices):
    SYNC_FAILED = "sync_failed", "sync failed"
    PROVISIONING_FAILED = "provisioning_failed", "provisioning failed"
    NEW_TAG_WAITING = "new_tag_waiting", "new tag waiting for a bump"
    BUMP_FAILED = "bump_failed", "bump failed or stuck"
    IMAGE_PINNED = "image_pinned", "image pinned"


def all_events() -> list[str]:
    return list(NotificationEvent.values)


class NotificationTarget(models.Model):
    class Kind(models.TextChoices):
        WEBHOOK = "webhook"
        EMAIL = "email", "e-mail"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="notification_targets")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    url = models.CharField(max_length=500, blank=True)
    secret = EncryptedTextField(blank=True, editable=False)  # webhook HMAC key, shown once
    emails = models.JSONField(default=list, blank=True)
    events = models.JSONField(default=all_events, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.url or ', '.join(self.emails)} of {self.project}"


class NotificationDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    target = models.ForeignKey(NotificationTarget, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=NotificationEvent.choices)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event} to {self.target_id} ({self.status})"
