"""The coalescing rule under real concurrency: one queued and one running sync per repository at most,
and no request lost. Runs against the configured database (PostgreSQL in `make test`)."""

from __future__ import annotations

import pytest

from console.models import RunStatus, SyncRun, Trigger
from console.services.actors import Actor
from console.services.runs import claim_run
from console.services.syncs import sync_request
from tests.factories import make_project, make_repository, make_user
from tests.support.concurrency import run_concurrently, skip_on_sqlite
from tests.support.enqueue import stand_in


@pytest.fixture
def enqueued(monkeypatch):
    calls: list[int] = []
    stand_in(monkeypatch, "sync", calls.append)
    return calls


def request_concurrently(repository, count: int) -> list:
    actor = Actor.system("ci-test")
    return run_concurrently(
        lambda _: sync_request(actor=actor, repository=repository, trigger=Trigger.CI),
        count,
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_join_one_queued_run(enqueued):
    skip_on_sqlite()
    repository = make_repository(make_project())
    results = request_concurrently(repository, 12)

    assert SyncRun.objects.filter(repository=repository).count() == 1
    run = SyncRun.objects.get(repository=repository)
    assert {r.run.pk for r in results} == {run.pk}
    assert sum(r.created for r in results) == 1
    assert run.joined_requests == 11
    assert enqueued == [run.pk]


@pytest.mark.django_db(transaction=True)
def test_requests_while_running_queue_exactly_one_follow_up(enqueued):
    skip_on_sqlite()
    repository = make_repository(make_project())
    first = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    assert claim_run(SyncRun, run_id=first.pk, task_id="worker-1") is not None

    results = request_concurrently(repository, 10)

    statuses = list(SyncRun.objects.filter(repository=repository).values_list("status", flat=True))
    assert sorted(statuses) == [RunStatus.QUEUED, RunStatus.RUNNING]
    follow_up = SyncRun.objects.get(repository=repository, status=RunStatus.QUEUED)
    assert {r.run.pk for r in results} == {follow_up.pk}
    # The follow-up cannot start while the first runs: the database refuses a second running row.
    assert claim_run(SyncRun, run_id=follow_up.pk, task_id="worker-2") is None


@pytest.mark.django_db
def test_a_retried_task_may_claim_its_own_run_again_but_no_other_task_can():
    repository = make_repository(make_project())
    run = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    assert claim_run(SyncRun, run_id=run.pk, task_id="task-a").attempts == 1
    assert claim_run(SyncRun, run_id=run.pk, task_id="task-a").attempts == 2
    assert claim_run(SyncRun, run_id=run.pk, task_id="task-b") is None


@pytest.mark.django_db
def test_developers_may_sync_readers_may_not():
    from console.services.errors import PermissionDenied
    from tests.factories import make_member

    project = make_project()
    repository = make_repository(project)
    reader, developer = make_user(), make_user()
    make_member(reader, project, "reader")
    make_member(developer, project, "developer")
    with pytest.raises(PermissionDenied):
        sync_request(actor=Actor.for_user(reader, "api"), repository=repository, trigger=Trigger.API)
    assert sync_request(actor=Actor.for_user(developer, "api"), repository=repository, trigger=Trigger.API).created


@pytest.mark.django_db
def test_sweeper_fails_runs_whose_worker_vanished_and_starts_the_next(enqueued, settings,
                                                                     django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from console.services.sweeper import runs_sweep

    repository = make_repository(make_project())
    stuck = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    claim_run(SyncRun, run_id=stuck.pk, task_id="lost-worker")
    SyncRun.objects.filter(pk=stuck.pk).update(claimed_at=timezone.now() - timedelta(hours=2))
    follow_up = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    enqueued.clear()
    settings.SYNC_STUCK_AFTER_SECONDS = 3600

    with django_capture_on_commit_callbacks(execute=True):
        assert runs_sweep()["syncs"] == {"failed": 1, "requeued": 0, "relaunched": 0}
    assert enqueued == [follow_up.pk]
    stuck.refresh_from_db()
    assert stuck.status == RunStatus.FAILED
    assert stuck.error_code == "worker_lost"
    assert "request the run again" in stuck.error_message
    assert claim_run(SyncRun, run_id=follow_up.pk, task_id="next") is not None


@pytest.mark.django_db
def test_transient_failures_are_retried_with_backoff_then_fail_with_the_reason(enqueued, settings, forge_server):
    from console.services import runs
    from console.services.runs import RetryLater
    from console.services.syncs import sync_execute
    from tests.support.gitrepos import closed_port

    repository = make_repository(make_project(), external_url=f"http://127.0.0.1:{closed_port()}/gone.git")
    from console.services.provisioning import repository_forge_path

    repository.internal_path = repository_forge_path(repository)
    repository.save()
    run = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    countdowns = []
    for _ in range(runs.MAX_ATTEMPTS - 1):
        with pytest.raises(RetryLater) as retry:
            sync_execute(run_id=run.pk, task_id="task-1")  # a Celery retry keeps the task id
        countdowns.append(retry.value.countdown)
        run.refresh_from_db()
        assert run.status == RunStatus.RUNNING
    assert countdowns == sorted(countdowns) and countdowns[0] < countdowns[-1]  # backoff grows
    sync_execute(run_id=run.pk, task_id="task-1")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error_code == "unreachable"
    assert run.attempts == runs.MAX_ATTEMPTS


@pytest.mark.django_db
def test_a_worker_finishing_after_the_sweeper_does_not_overwrite_the_failure(enqueued, settings):
    from datetime import timedelta

    from django.utils import timezone

    from console.services.runs import finish_run
    from console.services.sweeper import runs_sweep

    repository = make_repository(make_project())
    run = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    claimed = claim_run(SyncRun, run_id=run.pk, task_id="slow-worker")
    SyncRun.objects.filter(pk=run.pk).update(claimed_at=timezone.now() - timedelta(hours=2))
    runs_sweep()
    assert finish_run(claimed, status=RunStatus.SUCCEEDED) is False
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.error_code == "worker_lost"


@pytest.mark.django_db
def test_a_queued_run_whose_message_was_lost_is_enqueued_again(enqueued, settings,
                                                               django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from console.services.sweeper import runs_sweep

    repository = make_repository(make_project())
    with django_capture_on_commit_callbacks(execute=False):  # the broker "lost" this message
        run = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    assert enqueued == []
    with django_capture_on_commit_callbacks(execute=True):
        assert runs_sweep()["syncs"]["requeued"] == 0  # not stale yet
    SyncRun.objects.filter(pk=run.pk).update(queued_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert runs_sweep()["syncs"]["requeued"] == 1
    assert enqueued == [run.pk]


@pytest.mark.django_db
def test_a_broken_broker_does_not_fail_the_request(monkeypatch, django_capture_on_commit_callbacks):
    def broker_down(run_id):
        raise ConnectionError("broker unreachable")

    stand_in(monkeypatch, "sync", broker_down)
    repository = make_repository(make_project())
    with django_capture_on_commit_callbacks(execute=True):
        queued = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API)
    assert queued.run.status == RunStatus.QUEUED  # kept, and picked up again by the sweeper
