"""The one table of run kinds: every queued → running → finished piece of work the workers do.

Each kind names its model, the resource it serializes on, the service that executes it and its Celery task.
The tasks (console.tasks), the enqueue on commit, the hand-off to the run queued behind a finished one and
the sweeper are all built from this table, so a new kind is one entry here plus its execute service.

Services enqueue by task name (``enqueue``), never by importing console.tasks: tasks call services, services
only name tasks, so the two never import each other (tests/console/test_import_graph.py holds this).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from console.models import ImageBump, ProvisioningRun, RegistryWatchRun, SyncRun
from console.services.runs import RunRequest, enqueue_next_queued, request_run


@dataclass(frozen=True)
class RunKind:
    name: str
    model: type[models.Model]
    resource_field: str  # the foreign key runs of one resource are serialized on
    execute: str  # dotted path of the service ``execute(*, run_id, task_id)``; a path, so this table imports no
    #               service that itself enqueues through this table
    task_name: str  # stable: queued messages and the beat schedule carry it
    report_key: str  # the sweeper report's key for this kind


KINDS: dict[str, RunKind] = {
    kind.name: kind
    for kind in (
        RunKind("sync", SyncRun, "repository", "console.services.syncs.sync_execute",
                "dso.sync.execute", "syncs"),
        RunKind("provisioning", ProvisioningRun, "project", "console.services.provisioning.provisioning_execute",
                "dso.provisioning.execute", "provisioning"),
        RunKind("image_bump", ImageBump, "repository", "console.services.image_bumps.image_bump_execute",
                "dso.images.bump", "image_bumps"),
        RunKind("registry_watch", RegistryWatchRun, "registry",
                "console.services.registry_watch.registry_watch_execute", "dso.registries.watch", "registry_watches"),
    )
}


def enqueue(kind: str, run_id: int, *, task_id: str | None = None) -> None:
    """Send the kind's task for a run. ``task_id``: the sweeper's, when it hands a run whose worker died to a
    new task. By name: the registered task when this process has it (so eager mode still runs it inline),
    otherwise a plain message to the broker."""
    from console.celery import app

    app.signature(KINDS[kind].task_name, args=[run_id]).apply_async(task_id=task_id)


def enqueuer(kind: str):
    """``enqueue`` bound to a kind, in the shape the run helpers take (run_id, optional task_id).

    Looked up on this module at call time, so a test that stands in for the broker replaces ``enqueue``."""
    import console.services.run_kinds as this

    def send(run_id: int, *, task_id: str | None = None) -> None:
        this.enqueue(kind, run_id, task_id=task_id)

    return send


def run_request(kind: str, *, resource: models.Model, **options) -> RunRequest:
    """Queue a run of ``kind`` for ``resource`` (or join the queued one), enqueued on commit."""
    spec = KINDS[kind]
    return request_run(run_model=spec.model, resource_field=spec.resource_field, resource=resource,
                       enqueue=enqueuer(kind), **options)


def enqueue_next(kind: str, resource: models.Model) -> None:
    """When a run of ``resource`` ends, start the oldest run of the same kind queued behind it."""
    spec = KINDS[kind]
    enqueue_next_queued(spec.model, resource_field=spec.resource_field, resource=resource, enqueue=enqueuer(kind))
