"""When the console syncs a repository on its own: the interval, the next due time and the backoff."""

from __future__ import annotations

from django.db import models

from console.models.repositories import Repository


class SyncSchedule(models.Model):
    """A repository's scheduled syncs. No row, or no interval: the repository syncs only when asked.

    ``next_at`` is when the beat sweep next asks for a sync (through the same request as every other trigger,
    so it joins a queued one). A scheduled repository whose syncs keep failing waits ``interval × 2^streak``
    (capped by the platform) between attempts and says so on its page.
    """

    repository = models.OneToOneField(Repository, on_delete=models.CASCADE, related_name="sync_schedule")
    interval_seconds = models.PositiveIntegerField(null=True, blank=True)
    next_at = models.DateTimeField(null=True, blank=True)
    failure_streak = models.PositiveIntegerField(default=0)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The sweep's one query: due schedules, oldest first.
            models.Index(fields=["next_at"], name="sync_schedule_due",
                         condition=models.Q(next_at__isnull=False)),
        ]

    def __str__(self) -> str:
        every = f"every {self.interval_seconds}s" if self.interval_seconds else "off"
        return f"sync schedule of {self.repository} ({every})"

    @property
    def enabled(self) -> bool:
        return bool(self.interval_seconds)
