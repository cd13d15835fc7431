"""Celery tasks: thin, by id, idempotent, retried only for transient failures, acknowledged late."""

from __future__ import annotations

from celery import shared_task

from console.services.leases import run_lease
from console.services.runs import RetryLater


@shared_task(name="dso.sync.execute", bind=True, acks_late=True, max_retries=None)
def sync_execute_task(self, run_id: int) -> None:
    from console.models import SyncRun
    from console.services.syncs import sync_execute

    try:
        with run_lease(SyncRun, run_id=run_id, task_id=self.request.id):
            sync_execute(run_id=run_id, task_id=self.request.id)
    except RetryLater as retry:
        raise self.retry(countdown=retry.countdown, exc=retry)


@shared_task(name="dso.provisioning.execute", bind=True, acks_late=True, max_retries=None)
def provisioning_execute_task(self, run_id: int) -> None:
    from console.models import ProvisioningRun
    from console.services.provisioning import provisioning_execute

    try:
        with run_lease(ProvisioningRun, run_id=run_id, task_id=self.request.id):
            provisioning_execute(run_id=run_id, task_id=self.request.id)
    except RetryLater as retry:
        raise self.retry(countdown=retry.countdown, exc=retry)


@shared_task(name="dso.runs.sweep_stuck", acks_late=True)
def sweep_stuck_runs_task() -> dict:
    from console.services.sweeper import runs_sweep

    return runs_sweep()


def enqueue_sync(run_id: int, *, task_id: str | None = None) -> None:
    # task_id: the sweeper's, when it hands a run whose worker died to a new task.
    sync_execute_task.apply_async(args=[run_id], task_id=task_id)


def enqueue_provisioning(run_id: int, *, task_id: str | None = None) -> None:
    # task_id: the sweeper's, when it hands a run whose worker died to a new task.
    provisioning_execute_task.apply_async(args=[run_id], task_id=task_id)


@shared_task(name="dso.images.bump", bind=True, acks_late=True, max_retries=None)
def image_bump_task(self, bump_id: int) -> None:
    from console.models import ImageBump
    from console.services.image_bumps import image_bump_execute

    try:
        with run_lease(ImageBump, run_id=bump_id, task_id=self.request.id):
            image_bump_execute(bump_id=bump_id, task_id=self.request.id)
    except RetryLater as retry:
        raise self.retry(countdown=retry.countdown, exc=retry)


def enqueue_image_bump(bump_id: int, *, task_id: str | None = None) -> None:
    # task_id: the sweeper's, when it hands a run whose worker died to a new task.
    image_bump_task.apply_async(args=[bump_id], task_id=task_id)
