"""Celery tasks: thin, by id, idempotent, retried only for transient failures, acknowledged late.

One task per run kind, built from the table in console.services.run_kinds; services send them by name.
"""

from __future__ import annotations

from celery import shared_task
from django.utils.module_loading import import_string

from console.services.leases import run_lease
from console.services.readback import readback_pass, readback_project
from console.services.run_kinds import KINDS, RunKind
from console.services.runs import RetryLater
from console.services.merge_requests import merge_requests_follow
from console.services.notifications import DeliveryFailed, notification_deliver
from console.services.registry_watch import registry_watch_sweep
from console.services.schedules import scheduled_syncs_sweep
from console.services.sweeper import runs_sweep


def _run_task(kind: RunKind):
    @shared_task(name=kind.task_name, bind=True, acks_late=True, max_retries=None)
    def execute_task(self, run_id: int) -> None:
        execute = import_string(kind.execute)
        try:
            with run_lease(kind.model, run_id=run_id, task_id=self.request.id):
                execute(run_id=run_id, task_id=self.request.id)
        except RetryLater as retry:
            raise self.retry(countdown=retry.countdown, exc=retry)
    return execute_task


RUN_TASKS = {name: _run_task(kind) for name, kind in KINDS.items()}
sync_execute_task = RUN_TASKS["sync"]
provisioning_execute_task = RUN_TASKS["provisioning"]
image_bump_task = RUN_TASKS["image_bump"]
registry_watch_task = RUN_TASKS["registry_watch"]


@shared_task(name="dso.runs.sweep_stuck", acks_late=True)
def sweep_stuck_runs_task() -> dict:
    return runs_sweep()


@shared_task(name="dso.readback.pass", acks_late=True)
def readback_pass_task() -> dict:
    """Beat's periodic read-back; a pass is read-only on clusters, so a redelivered one only reads again."""
    record = readback_pass()
    return {"pass": record.pk, "projects": record.projects, "drift_open": record.drift_open}


@shared_task(name="dso.readback.project", acks_late=True)
def readback_project_task(project_id: int, trigger: str = "portal") -> None:
    readback_project(project_id=project_id, trigger=trigger)
@shared_task(name="dso.syncs.sweep_scheduled", acks_late=True)
def sweep_scheduled_syncs_task() -> dict:
    return scheduled_syncs_sweep()


@shared_task(name="dso.registries.sweep", acks_late=True)
def sweep_registry_watches_task() -> dict:
    return registry_watch_sweep()


@shared_task(name="dso.notifications.deliver", bind=True, acks_late=True, max_retries=None)
def deliver_notification_task(self, delivery_id: int) -> None:
    try:
        notification_deliver(delivery_id=delivery_id)
    except DeliveryFailed as failed:
        raise self.retry(countdown=failed.countdown, exc=failed)


@shared_task(name="dso.bumps.follow_merge_requests", acks_late=True)
def follow_merge_requests_task() -> dict:
    return merge_requests_follow()
