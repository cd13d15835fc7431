"""The run-kinds table: one task per kind under its stable name, sent by name from the services."""

from __future__ import annotations

import pytest

from console.celery import app
from console.models import Project, RunStatus, SyncRun, Trigger
from console.services import run_kinds
from tests.factories import make_project, make_repository


def test_every_kind_has_its_task_under_its_stable_name():
    assert {name: kind.task_name for name, kind in run_kinds.KINDS.items()} == {
        "sync": "dso.sync.execute", "provisioning": "dso.provisioning.execute", "image_bump": "dso.images.bump",
        "registry_watch": "dso.registries.watch",
    }
    for kind in run_kinds.KINDS.values():
        task = app.tasks[kind.task_name]  # registered when the app loaded (console.apps)
        assert task.acks_late and task.max_retries is None


@pytest.fixture
def eager():
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.mark.django_db
def test_a_run_sent_by_name_runs_inline_in_eager_mode(eager):
    repository = make_repository(make_project())
    Project.objects.filter(pk=repository.project_id).update(status=Project.Status.ARCHIVED)
    run = SyncRun.objects.create(repository=repository, trigger=Trigger.API)

    run_kinds.enqueue("sync", run.pk)

    run.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "project_archived")
