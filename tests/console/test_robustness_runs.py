"""Leases and the record of ref changes, through the services with real git over loopback.

The worker-process version (a real worker SIGKILLed mid-push) is in test_robustness_worker.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console.models import RunStatus, SyncRun, Trigger
from console.services import runs
from console.services.actors import Actor
from console.services.leases import run_lease, runs_relaunch_lapsed
from console.services.runs import RetryLater, claim_run
from console.services.sweeper import runs_sweep
from console.services.syncs import sync_execute, sync_request
from tests.factories import make_project, make_repository
from tests.support.gitrepos import git, refs
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    calls: list[tuple[int, str | None]] = []
    stand_in(monkeypatch, "sync", lambda run_id, task_id=None: calls.append((run_id, task_id)))
    return calls


def request(repository) -> SyncRun:
    return sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run


def mirrored_repository(external_forge, name="app"):
    from console.services.provisioning import forge_clone_url, repository_forge_path

    work = external_forge.create(name)
    repository = make_repository(make_project(), name=name, external_url=external_forge.url(name))
    repository.internal_path = repository_forge_path(repository)
    repository.internal_url = forge_clone_url(repository)
    repository.save()
    return work, repository


def test_a_push_that_landed_before_its_worker_died_is_recorded_by_the_redo(forge_server, external_forge,
                                                                           enqueued, settings):
    from console.integrations import get_forge

    work, repository = mirrored_repository(external_forge)
    first = request(repository)
    sync_execute(run_id=first.pk, task_id="t1")
    first.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED and first.refs == refs(work.bare)

    old = work.sha()
    new = work.commit("second")
    work.publish(work.bare)
    # The dead attempt's push: the internal repository already holds the new commit, nothing recorded it.
    internal = get_forge().repository_dir(repository.internal_path)
    git("fetch", "--quiet", str(work.bare), "+refs/heads/*:refs/heads/*", cwd=internal)
    assert refs(internal) == refs(work.bare)

    redo = request(repository)
    sync_execute(run_id=redo.pk, task_id="t2")
    redo.refresh_from_db()
    assert redo.status == RunStatus.SUCCEEDED, redo.error_message
    assert [(c.ref, c.old_sha, c.new_sha, c.kind) for c in redo.ref_changes.all()] == [
        ("refs/heads/main", old, new, "updated")]
    assert redo.refs == refs(work.bare)

    third = request(repository)
    sync_execute(run_id=third.pk, task_id="t3")
    third.refresh_from_db()
    assert third.status == RunStatus.NO_CHANGE and not third.ref_changes.exists()


def test_history_older_than_the_snapshots_is_replayed_as_the_base(forge_server, external_forge, enqueued):
    work, repository = mirrored_repository(external_forge)
    first = request(repository)
    sync_execute(run_id=first.pk, task_id="t1")
    SyncRun.objects.filter(pk=first.pk).update(refs=None)  # as recorded before snapshots existed

    again = request(repository)
    sync_execute(run_id=again.pk, task_id="t2")
    again.refresh_from_db()
    assert again.status == RunStatus.NO_CHANGE and not again.ref_changes.exists()
    assert again.refs == refs(work.bare)  # the snapshot starts here


def test_an_attempt_that_lost_its_run_records_nothing(forge_server, external_forge, enqueued):
    work, repository = mirrored_repository(external_forge)
    run = request(repository)
    claim_run(SyncRun, run_id=run.pk, task_id="new-owner")  # the sweeper handed the run on meanwhile
    from console.services.syncs import _record_ref_changes

    stale = SyncRun.objects.get(pk=run.pk)
    stale.task_id = "dead-worker"
    assert _record_ref_changes(stale, ()) is False
    sync_execute(run_id=run.pk, task_id="new-owner")
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.ref_changes.count() == 1


def test_a_lapsed_lease_hands_the_run_to_a_new_task_and_keeps_it_running(enqueued, settings,
                                                                         django_capture_on_commit_callbacks):
    repository = make_repository(make_project())
    run = request(repository)
    claim_run(SyncRun, run_id=run.pk, task_id="dead-worker")
    follow_up = request(repository)
    enqueued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert runs_sweep()["syncs"]["relaunched"] == 0  # the lease is still valid
    SyncRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert runs_sweep()["syncs"] == {"failed": 0, "requeued": 0, "relaunched": 1}
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.task_id != "dead-worker"
    assert enqueued == [(run.pk, run.task_id)]  # the follow-up keeps waiting behind it
    assert claim_run(SyncRun, run_id=run.pk, task_id="dead-worker") is None  # a redelivered old message
    assert claim_run(SyncRun, run_id=run.pk, task_id=run.task_id) is not None
    assert SyncRun.objects.get(pk=follow_up.pk).status == RunStatus.QUEUED


def test_a_run_whose_workers_keep_dying_fails_and_starts_the_next(enqueued, settings,
                                                                  django_capture_on_commit_callbacks):
    repository = make_repository(make_project())
    run = request(repository)
    claim_run(SyncRun, run_id=run.pk, task_id="w")
    follow_up = request(repository)
    enqueued.clear()
    SyncRun.objects.filter(pk=run.pk).update(attempts=runs.MAX_ATTEMPTS,
                                             lease_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert runs_relaunch_lapsed(SyncRun, resource_field="repository",
                                    enqueue=lambda *a, **k: enqueued.append((a, k))) == {"relaunched": 0, "failed": 1}
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.error_code == "worker_lost"
    assert enqueued == [((follow_up.pk,), {})]


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_renews_the_lease_and_a_retry_stretches_it_over_its_countdown(settings):
    settings.RUN_LEASE_SECONDS = 2
    repository = make_repository(make_project())
    run = SyncRun.objects.create(repository=repository, trigger=Trigger.API)
    claimed = claim_run(SyncRun, run_id=run.pk, task_id="t")
    import time

    with run_lease(SyncRun, run_id=run.pk, task_id="t"):
        deadline = time.monotonic() + 30
        while SyncRun.objects.get(pk=run.pk).lease_expires_at <= claimed.lease_expires_at:
            assert time.monotonic() < deadline, "the heartbeat never renewed the lease"
            time.sleep(0.1)
    with pytest.raises(RetryLater), run_lease(SyncRun, run_id=run.pk, task_id="t"):
        raise RetryLater(countdown=600, reason="forge unreachable")
    assert SyncRun.objects.get(pk=run.pk).lease_expires_at > timezone.now() + timedelta(seconds=590)
