"""What sync and provisioning runs share: coalesced requests, claiming, finishing, retry policy.

A run is requested in the caller's transaction and its task is enqueued on commit. While a run of the same
resource is queued, a new request joins it; while one is running, exactly one follow-up may queue. Partial
unique constraints in the database enforce this, so it holds across processes and hosts.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from console.models.runs import RunStatus
from console.services.actors import Actor
from provisioning.errors import ProvisioningError
from provisioning.git.env import redact

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MAX_JOINED_RECORDED = 20


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
    enqueue: Callable[[int], None], extra: dict | None = None, append: dict[str, list] | None = None,
) -> RunRequest:
    """Queue a run, or join the queued one. ``append`` names JSON list fields whose entries a request adds
    whether it creates the run or joins it (a provisioning run's causes), so joining loses no reason."""
    for _ in range(3):
        try:
            with transaction.atomic():
                # Serialises concurrent requests for one resource (a no-op on SQLite, where the
                # unique constraint below still holds and the retry loop catches the loser).
                type(resource).objects.select_for_update().filter(pk=resource.pk).exists()
                queued = (
                    run_model.objects.select_for_update()
                    .filter(**{resource_field: resource}, status=RunStatus.QUEUED).first()
                )
                if queued is not None:
                    _join(queued, actor, append or {})
                    return RunRequest(queued, False)
                run = run_model.objects.create(
                    **{resource_field: resource},
                    trigger=trigger,
                    actor=actor.user if actor.user is not None and actor.user.pk else None,
                    trigger_detail=_requester(actor),
                    **(extra or {}),
                    **{name: list(entries) for name, entries in (append or {}).items()},
                )
                # robust: a broker outage must not fail the request; the sweeper re-enqueues stale queued runs.
                transaction.on_commit(lambda: enqueue(run.pk), robust=True)
                return RunRequest(run, True)
        except IntegrityError:
            continue  # another request created the queued run between our read and our insert
    raise RuntimeError("could not queue a run after three attempts")  # pragma: no cover


def _requester(actor: Actor) -> dict:
    return {"by": actor.label, "interface": actor.interface, **actor.detail}


def _join(queued, actor: Actor, append: dict[str, list]) -> None:
    """Count the request on the run it joined, and keep who asked (capped), so no trigger is invisible."""
    joined = queued.trigger_detail.get("joined", [])
    if len(joined) < MAX_JOINED_RECORDED:
        queued.trigger_detail = {**queued.trigger_detail, "joined": [*joined, _requester(actor)]}
    # Not capped: these entries may carry work (an internal repository to archive), not just a label.
    appended = {name: [*getattr(queued, name), *entries] for name, entries in append.items()}
    type(queued).objects.filter(pk=queued.pk).update(
        joined_requests=F("joined_requests") + 1, trigger_detail=queued.trigger_detail, **appended
    )
    queued.refresh_from_db()


def claim_run(run_model: type[models.Model], *, run_id: int, task_id: str):
    """Move a run from queued to running; the task that claimed it may claim it again when it retries.

    Returns the run, or None when there is nothing for this task to do (gone, finished, or another run of
    the same resource is running: that one enqueues this one when it finishes).
    """
    now = timezone.now()
    try:
        # One UPDATE is atomic by itself: outside a transaction it needs no BEGIN/COMMIT round trips; inside
        # one (a test, a caller's block) a savepoint keeps that transaction usable if the UPDATE fails.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            claimed = (
                run_model.objects.filter(pk=run_id)
                .filter(Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING, task_id=task_id))
                .update(
                    status=RunStatus.RUNNING,
                    started_at=Coalesce(F("started_at"), Value(now)),
                    claimed_at=now,
                    lease_expires_at=now + timedelta(seconds=settings.RUN_LEASE_SECONDS),
                    task_id=task_id,
                    attempts=F("attempts") + 1,
                )
            )
    except IntegrityError:
        return None
    if not claimed:
        return None
    return run_model.objects.get(pk=run_id)


def finish_run(run, *, status: str, error: ProvisioningError | Exception | None = None, **fields) -> bool:
    """End a run this task still owns. False when it no longer does (the sweeper failed it meanwhile):
    the recorded outcome then stays as the sweeper wrote it rather than being overwritten."""
    fields.update(status=status, finished_at=timezone.now())
    if error is not None:
        fields.update(error_code=getattr(error, "code", "internal_error"), error_message=str(error)[:4000])
    owned = type(run).objects.filter(pk=run.pk, status=RunStatus.RUNNING, task_id=run.task_id).update(**fields)
    for name, value in fields.items():
        setattr(run, name, value)
    if not owned:
        log.warning("%s was no longer owned by task %s when it finished; outcome %s dropped", run, run.task_id, status)
        return False
    from console.ops.metrics import observe_run_end

    try:
        observe_run_end(run)
    except Exception:  # noqa: BLE001 - counting must never fail a run that has ended
        log.exception("metrics of %s could not be recorded", run)
    return True


def handle_failure(run, error: Exception, *, secrets: tuple[str | None, ...] = ()) -> None:
    """Retry a transient failure while attempts remain; otherwise end the run failed with its reason."""
    if isinstance(error, ProvisioningError):
        message = redact(error.message, *secrets)
        if error.transient and run.attempts < MAX_ATTEMPTS:
            # Kept on the run (even once it succeeds), so its history says why it took more than one attempt.
            type(run).objects.filter(pk=run.pk, status=RunStatus.RUNNING, task_id=run.task_id).update(
                error_code=error.code,
                error_message=f"attempt {run.attempts} of {MAX_ATTEMPTS} failed, retried: {message}"[:4000])
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
        transaction.on_commit(lambda: enqueue(queued.pk), robust=True)


def sweep_runs(run_model: type[models.Model], *, resource_field: str, enqueue: Callable[[int], None],
               stuck_after_seconds: int, stale_queued_after_seconds: int) -> dict[str, int]:
    """Fail runs whose attempt has run too long (the worker died), and re-enqueue queued runs nobody took
    (a broker outage lost their message). Re-enqueuing is safe: a run is claimed at most once."""
    now = timezone.now()
    failed = 0
    for run in run_model.objects.filter(status=RunStatus.RUNNING,
                                        claimed_at__lt=now - timedelta(seconds=stuck_after_seconds)):
        failed += run_model.objects.filter(pk=run.pk, status=RunStatus.RUNNING, task_id=run.task_id).update(
            status=RunStatus.FAILED, finished_at=now, error_code="worker_lost",
            error_message="the worker running this stopped responding; request the run again",
        )
        enqueue_next_queued(run_model, resource_field=resource_field,
                            resource=getattr(run, resource_field), enqueue=enqueue)
    requeued = 0
    stale = run_model.objects.filter(status=RunStatus.QUEUED,
                                     queued_at__lt=now - timedelta(seconds=stale_queued_after_seconds))
    busy = set(run_model.objects.filter(status=RunStatus.RUNNING).values_list(f"{resource_field}_id", flat=True))
    for run in stale:
        if getattr(run, f"{resource_field}_id") not in busy:
            transaction.on_commit(lambda run_id=run.pk: enqueue(run_id), robust=True)
            requeued += 1
    return {"failed": failed, "requeued": requeued}
