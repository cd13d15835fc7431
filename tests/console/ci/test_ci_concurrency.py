"""Twenty pipelines trigger one repository at once while a sync runs: one follow-up queues, every trigger is
kept, and running the queue mirrors the newest commit. Needs a server database (PostgreSQL in `make test`)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.models import RunStatus, SyncRun, Trigger
from console.services.actors import Actor
from console.services.ci_tokens import ci_token_create
from console.services.runs import claim_run
from console.services.syncs import sync_execute, sync_request
from tests.support.concurrency import run_concurrently, skip_on_sqlite
from tests.support.gitrepos import refs
from tests.support.enqueue import stand_in

CONCURRENT = 20


def trigger_concurrently(repository, secret: str) -> list:
    def trigger(number: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client.post(f"/api/v1/repositories/{repository.pk}/sync/", {"pipeline_id": str(5000 + number)},
                           format="json")

    return run_concurrently(trigger, CONCURRENT)


@pytest.mark.django_db(transaction=True)
def test_concurrent_ci_triggers_coalesce_and_the_newest_commit_is_mirrored(mirrored, monkeypatch, settings):
    skip_on_sqlite()

    repository, work, actor = mirrored
    enqueued: list[int] = []
    stand_in(monkeypatch, "sync", enqueued.append)
    _, secret = ci_token_create(actor=actor, repository=repository, name="gitlab-ci")

    # A sync is running (claimed by a worker) when the pipelines arrive.
    first = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    assert enqueued == [first.pk]
    enqueued.clear()
    assert claim_run(SyncRun, run_id=first.pk, task_id="worker-1") is not None
    work.commit("newest", {"newest.txt": "newest\n"})
    work.publish(work.bare)

    responses = trigger_concurrently(repository, secret)

    assert [r.status_code for r in responses] == [202] * CONCURRENT, [r.content for r in responses if r.status_code != 202]
    active = SyncRun.objects.filter(repository=repository, status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
    assert sorted(active.values_list("status", flat=True)) == [RunStatus.QUEUED, RunStatus.RUNNING]
    follow_up = active.get(status=RunStatus.QUEUED)
    assert {r.json()["id"] for r in responses} == {follow_up.pk}
    assert follow_up.trigger == Trigger.CI and follow_up.joined_requests == CONCURRENT - 1
    recorded = {follow_up.trigger_detail["pipeline_id"]} | {
        joined["pipeline_id"] for joined in follow_up.trigger_detail["joined"]
    }
    assert recorded == {str(5000 + n) for n in range(CONCURRENT)}
    assert enqueued == [follow_up.pk]

    # The worker finishes the first run, which enqueues the follow-up; then the follow-up runs.
    enqueued.clear()
    sync_execute(run_id=first.pk, task_id="worker-1")
    assert enqueued == [follow_up.pk]
    sync_execute(run_id=follow_up.pk, task_id="worker-2")
    first.refresh_from_db()
    follow_up.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED, first.error_message
    assert follow_up.status in (RunStatus.SUCCEEDED, RunStatus.NO_CHANGE), follow_up.error_message
    assert SyncRun.objects.filter(repository=repository, trigger=Trigger.CI).count() == 1
    internal = settings.LOCAL_FORGE_ROOT / f"{repository.internal_path}.git"
    assert refs(internal) == refs(work.bare)
