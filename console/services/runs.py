"""What sync and provisioning runs share: coalesced requests, claiming, finishing, retry policy.

A run is requested in the caller's transaction and its task is enqueued on commit. While a run of the same
resource is queued, a new request joins it; while one is running, exactly one follow-up may queue. Partial
unique constraints in the database enforce this, so it holds across processes and hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from django.db import IntegrityError, models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from console.models.runs import RunStatus
from console.services.actors import Actor
from provisioning.errors import ProvisioningError
from provisioning.gitenv import redact

MAX_ATTEMPTS = 5


class RetryLater(Exception):
    """Raised by an execute service when a transient failure should be retried by the task."""

    def __init__(self, countdown: float, reason: str):
        super().__init__(reason)
        self.countdown = countdown


@dataclass(frozen=True)
class RunRequest:
    run: models.Model
    created: bool  # False: joined a run that was already queued


def request_run(
    *, run_model: type[models.Model], resource_field: str, resource: models.Model, actor: Actor, trigger: str,
    enqueue: Callable[[int], None], extra: dict | None = None,
) -> RunRequest:
    for _ in range(3):
        try:
            with transaction.atomic():
                # Serialises concurrent requests for one resource (a no-op on SQLite, where the
                # unique constraint below still holds and the retry loop catches the loser).
                type(resource).objects.select_for_update().filter(pk=resource.pk).exists()
                queued = run_model.objects.filter(**{resource_field: resource}, status=RunStatus.QUEUED).first()
                if queued is not None:
                    run_model.objects.filter(pk=queued.pk).update(joined_requests=F("joined_requests") + 1)
                    queued.refresh_from_db()
                    return RunRequest(queued, False)
                run = run_model.objects.create(
                    **{resource_field: resource},
                    trigger=trigger,
                    actor=actor.user if actor.user is not None and actor.user.pk else None,
                    trigger_detail={"by": actor.label, "interface": actor.interface, **actor.detail},
                    **(extra or {}),
                )
                transaction.on_commit(lambda: enqueue(run.pk))
                return RunRequest(run, True)
        except IntegrityError:
            continue  # another request created the queued run between our read and our insert
    raise RuntimeError("could not queue a run after three attempts")  # pragma: no cover


def claim_run(run_model: type[models.Model], *, run_id: int, task_id: str):
    """Move a run from queued to running; the task that claimed it may claim it again when it retries.

    Returns the run, or None when there is nothing for this task to do (gone, finished, or another run of
    the same resource is running: that one enqueues this one when it finishes).
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = (
                run_model.objects.filter(pk=run_id)
                .filter(Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING, task_id=task_id))
                .update(
                    status=RunStatus.RUNNING,
                    started_at=Coalesce(F("started_at"), Value(now)),
                    task_id=task_id,
                    attempts=F("attempts") + 1,
                )
            )
    except IntegrityError:
        return None
    if not claimed:
        return None
    return run_model.objects.get(pk=run_id)


def finish_run(run, *, status: str, error: ProvisioningError | Exception | None = None, **fields) -> None:
    run.status = status
    run.finished_at = timezone.now()
    if error is not None:
        run.error_code = getattr(error, "code", "internal_error")
        run.error_message = str(error)[:4000]
    for name, value in fields.items():
        setattr(run, name, value)
    run.save()


def handle_failure(run, error: Exception, *, secrets: tuple[str | None, ...] = ()) -> None:
    """Retry a transient failure while attempts remain; otherwise end the run failed with its reason."""
    if isinstance(error, ProvisioningError):
        message = redact(error.message, *secrets)
        if error.transient and run.attempts < MAX_ATTEMPTS:
            raise RetryLater(countdown=min(300, 5 * 2 ** (run.attempts - 1)), reason=message)
        failure = ProvisioningError(message, code=error.code)
    else:
        failure = ProvisioningError(
            f"internal error ({type(error).__name__}); the platform team can find details in the worker log",
            code="internal_error",
        )
    finish_run(run, status=RunStatus.FAILED, error=failure)


def enqueue_next_queued(run_model: type[models.Model], *, resource_field: str, resource: models.Model,
                        enqueue: Callable[[int], None]) -> None:
    """When a run of a resource ends, start the oldest run queued behind it (its own task found it busy)."""
    queued = (
        run_model.objects.filter(**{resource_field: resource}, status=RunStatus.QUEUED)
        .order_by("queued_at", "id").first()
    )
    if queued is not None:
        transaction.on_commit(lambda: enqueue(queued.pk))


def stuck_runs(run_model: type[models.Model], *, older_than_seconds: int):
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return run_model.objects.filter(status=RunStatus.RUNNING, started_at__lt=cutoff)
