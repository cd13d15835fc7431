"""Run leases: how the console learns within seconds that the worker running a run has died.

While a task works on a run, a small thread renews the run's lease every few seconds (``run_lease``). A
worker that is killed (out of memory, node lost, SIGKILL) stops renewing; the sweeper, which beat runs every
few seconds, then gives the lapsed run a new task id and enqueues it (``runs_relaunch_lapsed``), so another
worker redoes it. The run stays ``running`` meanwhile: the follow-up queued behind it keeps waiting its turn,
and the dead attempt's message, should the broker deliver it again, no longer owns the run (``claim_run``
matches the task id), so it ends quietly.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from console.models.runs import RunStatus
from console.services.runs import MAX_ATTEMPTS, RetryLater, enqueue_next_queued

log = logging.getLogger(__name__)


def _renew(run_model: type[models.Model], *, run_id: int, task_id: str, seconds: float) -> int:
    return run_model.objects.filter(pk=run_id, status=RunStatus.RUNNING, task_id=task_id).update(
        lease_expires_at=timezone.now() + timedelta(seconds=seconds)
    )


@contextmanager
def run_lease(run_model: type[models.Model], *, run_id: int, task_id: str) -> Iterator[None]:
    """Keep the lease of the run this task works on (once it has claimed it) for as long as the block runs.

    A retry waits its countdown outside the worker, renewing nothing: the lease is stretched over the
    countdown so the sweeper does not mistake the wait for a dead worker.
    """
    lease = settings.RUN_LEASE_SECONDS
    stop = threading.Event()

    def renew_until_stopped() -> None:
        try:
            while not stop.wait(max(0.5, lease / 3)):
                try:
                    _renew(run_model, run_id=run_id, task_id=task_id, seconds=lease)
                except DatabaseError as error:  # the next beat reconnects; a lapse only costs a redo
                    log.warning("could not renew the lease of %s %s: %s", run_model.__name__, run_id, error)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    heartbeat = threading.Thread(target=renew_until_stopped, name=f"lease-{run_model.__name__}-{run_id}",
                                 daemon=True)
    heartbeat.start()
    try:
        yield
    except RetryLater as retry:
        _renew(run_model, run_id=run_id, task_id=task_id, seconds=retry.countdown + lease)
        raise
    finally:
        stop.set()
        heartbeat.join()


def runs_relaunch_lapsed(run_model: type[models.Model], *, resource_field: str,
                         enqueue: Callable[..., None]) -> dict[str, int]:
    """Hand every run whose lease lapsed to a new task; fail it once it has used up its attempts."""
    now = timezone.now()
    relaunched = failed = 0
    for run in run_model.objects.filter(status=RunStatus.RUNNING, lease_expires_at__lt=now):
        # Conditional on the lapsed lease and the old task id: a worker that renewed meanwhile keeps its run.
        current = run_model.objects.filter(pk=run.pk, status=RunStatus.RUNNING, task_id=run.task_id,
                                           lease_expires_at__lt=now)
        if run.attempts >= MAX_ATTEMPTS:
            ended = current.update(
                status=RunStatus.FAILED, finished_at=now, error_code="worker_lost",
                error_message=f"the worker running this stopped responding {run.attempts} times; "
                              "request the run again",
            )
            if ended:
                enqueue_next_queued(run_model, resource_field=resource_field,
                                    resource=getattr(run, resource_field), enqueue=enqueue)
            failed += ended
            continue
        task_id = str(uuid.uuid4())
        # The new lease covers the wait for a worker to take the message; if none does, it lapses again.
        if current.update(task_id=task_id,
                          lease_expires_at=now + timedelta(seconds=settings.RUN_LEASE_SECONDS)):
            log.warning("the worker of %s (task %s) stopped renewing its lease; redoing it as task %s",
                        run, run.task_id, task_id)
            transaction.on_commit(lambda run_id=run.pk, task_id=task_id: enqueue(run_id, task_id=task_id),
                                  robust=True)
            relaunched += 1
    return {"relaunched": relaunched, "failed": failed}
