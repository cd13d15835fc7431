"""Scheduled syncs: a per-repository interval, one beat sweep that asks for due syncs in batches, and an
exponential backoff for repositories whose syncs keep failing.

The sweep asks through ``sync_request`` with ``Trigger.SCHEDULE``, so a scheduled sync joins a queued one
exactly like a CI or portal request would; it never has its own way to start a run.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from console.authorization import authorize
from console.models import Project, Repository, SyncSchedule, Trigger
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import DomainError

log = logging.getLogger(__name__)

SCHEDULE_ACTOR_LABEL = "sync-schedule"


def backoff_seconds(interval_seconds: int, failure_streak: int) -> int:
    """interval × 2^streak, never above the platform cap (nor below the interval itself)."""
    cap = max(settings.SYNC_SCHEDULE_MAX_BACKOFF_SECONDS, interval_seconds)
    # 2**streak overflows nothing in Python, but a streak of 60 is years: stop doubling once past the cap.
    return min(cap, interval_seconds * 2 ** min(failure_streak, 32))


def next_due(interval_seconds: int, failure_streak: int, *, after: datetime, rng: random.Random | None = None
             ) -> datetime:
    """The next sweep time: the (backed-off) interval plus up to ``SYNC_SCHEDULE_JITTER`` of it."""
    delay = backoff_seconds(interval_seconds, failure_streak)
    jitter = (rng or random).uniform(0, max(0.0, settings.SYNC_SCHEDULE_JITTER)) * delay
    return after + timedelta(seconds=delay + jitter)


def sync_schedule_set(*, actor: Actor, repository: Repository, interval_seconds: int | None,
                      enabled: bool = True) -> SyncSchedule:
    """Turn scheduled syncs on (``interval_seconds`` or the platform default), change the interval, or off.

    The first due time is spread over one interval, so a thousand repositories switched on together (a
    migration script, say) do not all sync in the same sweep."""
    authorize(actor, "repository.manage", repository, doing="changing the sync schedule")
    if enabled and interval_seconds is None:
        interval_seconds = settings.SYNC_SCHEDULE_DEFAULT_SECONDS
    if not enabled:
        interval_seconds = None
    if interval_seconds is not None:
        if not isinstance(interval_seconds, int) or isinstance(interval_seconds, bool):
            raise DomainError({"interval_seconds": [_("must be a whole number of seconds")]}, code="invalid")
        if interval_seconds < settings.SYNC_SCHEDULE_MIN_SECONDS:
            raise DomainError(
                {"interval_seconds": [_("the platform syncs at most every %(minimum)s seconds")
                                      % {"minimum": settings.SYNC_SCHEDULE_MIN_SECONDS}]},
                code="interval_too_short")
        if interval_seconds > 366 * 24 * 3600:
            raise DomainError({"interval_seconds": [_("at most one year")]}, code="invalid")
    if interval_seconds is not None and repository.project.status == Project.Status.ARCHIVED:
        raise DomainError(_("the project is archived: its repositories are no longer synced"), code="conflict")
    now = timezone.now()
    with transaction.atomic():
        schedule, _created = SyncSchedule.objects.select_for_update().get_or_create(repository=repository)
        before = {"interval_seconds": schedule.interval_seconds}
        if schedule.interval_seconds == interval_seconds:
            return schedule
        schedule.interval_seconds = interval_seconds
        if interval_seconds is None:
            schedule.next_at = None
        else:
            schedule.next_at = now + timedelta(seconds=random.uniform(0, interval_seconds))
        schedule.save()
        audit_record(actor=actor, action="repository.sync_schedule", target=repository, before=before,
                     after={"interval_seconds": interval_seconds})
    return schedule


def scheduled_syncs_sweep(*, now: datetime | None = None, batch_size: int | None = None,
                          max_batches: int | None = None) -> dict[str, int]:
    """Ask for a sync of every repository whose schedule is due, ``batch_size`` at a time.

    Each batch is one transaction: its schedules are locked with SKIP LOCKED (a second sweep running at the
    same moment takes the next ones instead of waiting or asking twice), each repository's request is made,
    and their next due times are written in one UPDATE. The runs' tasks are enqueued when the batch commits.
    """
    from console.services.syncs import sync_request

    now = now or timezone.now()
    batch_size = batch_size or settings.SYNC_SCHEDULE_BATCH_SIZE
    max_batches = max_batches or settings.SYNC_SCHEDULE_MAX_BATCHES
    actor = Actor.system(SCHEDULE_ACTOR_LABEL)
    report = {"queued": 0, "joined": 0, "skipped": 0, "batches": 0}
    rng = random.Random()
    for _batch in range(max_batches):
        with transaction.atomic():
            batch = list(
                SyncSchedule.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(next_at__lte=now, interval_seconds__isnull=False)
                .select_related("repository__project__organization")
                .order_by("next_at", "id")[:batch_size]
            )
            if not batch:
                break
            report["batches"] += 1
            for schedule in batch:
                repository = schedule.repository
                if repository.project.status == Project.Status.ARCHIVED:
                    schedule.next_at = None  # stays off until someone sets it again on an active project
                    report["skipped"] += 1
                    continue
                if repository.project.locked_at is not None:
                    # Not asked (it would be refused): the schedule keeps its pace and resumes once unlocked.
                    report["skipped"] += 1
                    schedule.next_at = next_due(schedule.interval_seconds, schedule.failure_streak, after=now,
                                                rng=rng)
                    continue
                try:
                    request = sync_request(actor=actor, repository=repository, trigger=Trigger.SCHEDULE)
                except DomainError as error:
                    log.info("scheduled sync of %s refused: %s", repository, error.message)
                    report["skipped"] += 1
                else:
                    report["queued" if request.created else "joined"] += 1
                    schedule.last_enqueued_at = now
                # Provisional: when the run finishes, sync_schedule_after_run counts from its end instead.
                schedule.next_at = next_due(schedule.interval_seconds, schedule.failure_streak, after=now, rng=rng)
            SyncSchedule.objects.bulk_update(batch, ["next_at", "last_enqueued_at"])
        if len(batch) < batch_size:
            break
    return report


def sync_schedule_after_run(*, repository_id: int, failed: bool, finished_at: datetime | None = None) -> None:
    """A sync of a scheduled repository ended (whatever asked for it): count the failure streak and set the
    next due time from now, backed off while it keeps failing. One query for an unscheduled repository."""
    finished_at = finished_at or timezone.now()
    if not SyncSchedule.objects.filter(repository_id=repository_id).exists():
        return  # most repositories: one query, outside a transaction (a BEGIN and a COMMIT fewer)
    with transaction.atomic():
        schedule = SyncSchedule.objects.select_for_update().filter(repository_id=repository_id).first()
        if schedule is None:
            return
        schedule.failure_streak = schedule.failure_streak + 1 if failed else 0
        if schedule.interval_seconds:
            schedule.next_at = next_due(schedule.interval_seconds, schedule.failure_streak, after=finished_at)
        schedule.save(update_fields=["failure_streak", "next_at", "updated_at"])


@dataclass(frozen=True)
class ScheduleState:
    """What the repository page and the API say about the schedule."""

    enabled: bool
    interval_seconds: int | None
    next_at: datetime | None
    failure_streak: int
    backoff_seconds: int | None  # the wait now in force (the interval when nothing failed)
    minimum_seconds: int
    default_seconds: int

    @property
    def interval_minutes(self) -> int | None:
        return self.interval_seconds // 60 if self.interval_seconds else None

    @property
    def backoff_minutes(self) -> int | None:
        return self.backoff_seconds // 60 if self.backoff_seconds else None

    @property
    def backing_off(self) -> bool:
        return self.enabled and self.failure_streak > 0

    def as_dict(self) -> dict:
        return {"enabled": self.enabled, "interval_seconds": self.interval_seconds, "next_at": self.next_at,
                "failure_streak": self.failure_streak, "backing_off": self.backing_off,
                "backoff_seconds": self.backoff_seconds, "minimum_seconds": self.minimum_seconds,
                "default_seconds": self.default_seconds}


def schedule_state(repository: Repository) -> ScheduleState:
    schedule = SyncSchedule.objects.filter(repository=repository).first()
    interval = schedule.interval_seconds if schedule else None
    streak = schedule.failure_streak if schedule else 0
    return ScheduleState(
        enabled=bool(interval), interval_seconds=interval, next_at=schedule.next_at if schedule else None,
        failure_streak=streak, backoff_seconds=backoff_seconds(interval, streak) if interval else None,
        minimum_seconds=settings.SYNC_SCHEDULE_MIN_SECONDS, default_seconds=settings.SYNC_SCHEDULE_DEFAULT_SECONDS,
    )
