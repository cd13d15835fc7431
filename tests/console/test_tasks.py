"""Tasks through the real broker and a real worker (Redis in `make test`, the filesystem transport otherwise)."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

from console.celery import app
from console.models import RunStatus, SyncRun, Trigger
from console.services.actors import Actor
from console.services.syncs import sync_request
from tests.factories import make_project, make_repository

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def worker(settings):
    app.conf.task_always_eager = False
    app.conf.broker_url = settings.CELERY_BROKER_URL
    # Start from an empty queue so messages left by another run cannot interfere.
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("dso") if _queue_exists(connection) else None
    # The worker runs in a thread of this process: close its database connection after each task, or the
    # test database cannot be dropped at the end of the session.
    task_postrun.connect(close_worker_connections)
    try:
        with start_worker(app, queues=["dso"], perform_ping_check=False, pool="solo", shutdown_timeout=30):
            yield
    finally:
        task_postrun.disconnect(close_worker_connections)


def close_worker_connections(**kwargs):
    connections.close_all()


def _queue_exists(connection) -> bool:
    try:
        connection.default_channel.queue_declare("dso", passive=True)
        return True
    except Exception:  # noqa: BLE001 - kombu transports raise different errors for a missing queue
        return False


def test_sync_runs_through_the_broker_and_a_worker(forge_server, external_forge, worker):
    work = external_forge.create("app")
    project = make_project()
    repository = make_repository(project, name="app", external_url=external_forge.url("app"))
    from console.services.provisioning import forge_clone_url, repository_forge_path

    repository.internal_path = repository_forge_path(repository)
    repository.internal_url = forge_clone_url(repository)
    repository.save()

    run = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run

    assert wait_for(lambda: SyncRun.objects.get(pk=run.pk).status not in (RunStatus.QUEUED, RunStatus.RUNNING))
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.task_id  # claimed by the worker's task
    assert run.ref_changes.get().new_sha == work.sha()
