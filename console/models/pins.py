"""Pins: an image held at one tag in one infra repository, so no automation undoes a rollback."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from console.models.images import ImageBump
from console.models.repositories import Repository


class ImagePin(models.Model):
    """While a pin is active (``unpinned_at`` empty) every bump of its image in its repository to another tag
    is refused with 409, whoever asks: CI, the registry watch, a person. Unpinned pins are kept as history."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="image_pins")
    image = models.CharField(max_length=500)
    tag = models.CharField(max_length=200)
    reason = models.CharField(max_length=500)
    pinned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    pinned_by_label = models.CharField(max_length=200)
    pinned_at = models.DateTimeField(auto_now_add=True)
    # The rollback's bump to the pinned tag (empty for a pin on the tag already deployed).
    bump = models.ForeignKey(ImageBump, on_delete=models.SET_NULL, null=True, blank=True, related_name="pins")
    unpinned_at = models.DateTimeField(null=True, blank=True)
    unpinned_by_label = models.CharField(max_length=200, blank=True)
    unpin_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-pinned_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["repository", "image"], condition=Q(unpinned_at__isnull=True),
                                    name="one_active_pin_per_image_and_repository"),
        ]

    def __str__(self) -> str:
        return f"{self.image} pinned at {self.tag} in {self.repository}"

    @property
    def active(self) -> bool:
        return self.unpinned_at is None

    @property
    def refusal(self) -> str:
        return f"image pinned at {self.tag} by {self.pinned_by_label} because {self.reason}"
