"""What one sync costs the database, pinned: the trigger (over the API, as a pipeline or a person asks) and
the worker's execution, for a sync that brings a commit and one that finds nothing new. Run outside a test
transaction (``transaction=True``), as the worker and the web server run, so the counts are production's:
a single-statement write there needs no BEGIN/COMMIT; in a test transaction it would be a savepoint."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from console.models import RunStatus, SyncRun, Trigger
from console.services.actors import Actor
from console.services.api_tokens import api_token_issue
from console.services.organizations import organization_create
from console.services.projects import project_create
from console.services.repositories import repository_register
from console.services.syncs import sync_execute, sync_request
from console.tasks import sync_execute_task
from tests.factories import make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db(transaction=True)

# A sync that pushed a commit: claim (1) and read the run (1), the repository with its project (1), the
# recorded refs (1), the ref changes written with the run's ownership checked (BEGIN, lock, INSERT, COMMIT),
# the run finished (1), the schedule (1: none), the run queued behind it (1).
WORKER_SYNC_WITH_A_COMMIT = 11
# Nothing new: no ref change to write.
WORKER_SYNC_WITH_NOTHING_NEW = 7
# The token (1), the repository as the user sees it (1), the user's role (1), the run queued in one
# transaction with the repository locked (BEGIN, lock, queued run, INSERT, COMMIT). A queued run has no ref
# changes to read.
API_TRIGGER = 8


@pytest.fixture
def repository(forge_server, external_forge, monkeypatch):
    stand_in(monkeypatch, "sync", lambda run_id: None)
    stand_in(monkeypatch, "provisioning", lambda run_id: None)
    actor = Actor.for_user(make_user("alice"), "api")
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    work = external_forge.create("app")
    registered = repository_register(actor=actor, project=project, name="app", external_url=external_forge.url("app"))
    first = SyncRun.objects.get(repository=registered)
    sync_execute(run_id=first.pk, task_id="first")
    registered.work = work
    registered.actor = actor
    return registered


def _executed(repository, task_id: str) -> tuple[SyncRun, int]:
    """Through the Celery task as a worker runs it (its lease, its signals: the end is counted without a
    query), in this process."""
    run = sync_request(actor=repository.actor, repository=repository, trigger=Trigger.API).run
    with CaptureQueriesContext(connection) as queries:
        sync_execute_task.apply(args=[run.pk], task_id=task_id)
    run.refresh_from_db()
    return run, len(queries)


def test_a_sync_costs_the_same_few_queries_each_time(repository):
    counts = []
    for attempt in range(3):
        repository.work.commit(f"change {attempt}", {"file.txt": str(attempt)})
        repository.work.publish(repository.work.bare)
        run, queries = _executed(repository, f"commit-{attempt}")
        assert run.status == RunStatus.SUCCEEDED, run.error_message
        counts.append(queries)
    run, nothing_new = _executed(repository, "nothing-new")
    assert run.status == RunStatus.NO_CHANGE

    assert counts == [WORKER_SYNC_WITH_A_COMMIT] * 3
    assert nothing_new == WORKER_SYNC_WITH_NOTHING_NEW


def test_a_trigger_over_the_api_costs_the_same_few_queries_each_time(repository):
    _, secret = api_token_issue(actor=repository.actor, name="pipeline")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    client.get(f"/api/v1/repositories/{repository.pk}/")  # a token's first use is recorded (then once a minute)
    counts = []
    for _ in range(3):
        SyncRun.objects.filter(status=RunStatus.QUEUED).update(status=RunStatus.NO_CHANGE)
        with CaptureQueriesContext(connection) as queries:
            response = client.post(f"/api/v1/repositories/{repository.pk}/sync/")
        assert response.status_code == 202, response.content
        assert response.json()["ref_changes"] == []
        counts.append(len(queries))

    assert counts == [API_TRIGGER] * 3
