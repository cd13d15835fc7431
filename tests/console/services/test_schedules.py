"""Scheduled syncs: off by default, the platform minimum, the beat sweep asking through sync_request with the
schedule trigger (joining a queued run), the backoff after failures, and the sweep's pinned query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from console.models import AuditEvent, Project, RunStatus, SyncRun, SyncSchedule, Trigger
from console.services.actors import Actor
from console.services.errors import DomainError, PermissionDenied
from console.services.schedules import (
    backoff_seconds,
    schedule_state,
    scheduled_syncs_sweep,
    sync_schedule_after_run,
    sync_schedule_set,
)
from console.services.syncs import sync_request
from tests.factories import make_member, make_project, make_repository, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    calls: list[int] = []
    stand_in(monkeypatch, "sync", calls.append)
    return calls


@pytest.fixture
def admin():
    return Actor.for_user(make_user(staff=True), "api")


def scheduled(admin, count: int, *, interval: int = 600, due: bool = True) -> list:
    project = make_project()
    repositories = [make_repository(project) for _ in range(count)]
    for repository in repositories:
        sync_schedule_set(actor=admin, repository=repository, interval_seconds=interval)
    if due:
        SyncSchedule.objects.filter(repository__in=repositories).update(
            next_at=timezone.now() - timedelta(seconds=1))
    return repositories


def test_repositories_are_not_scheduled_by_default(enqueued):
    make_repository()
    assert scheduled_syncs_sweep() == {"queued": 0, "joined": 0, "skipped": 0, "batches": 0}
    assert enqueued == []
    assert not schedule_state(make_repository()).enabled


def test_an_interval_below_the_platform_minimum_is_refused(admin, settings):
    settings.SYNC_SCHEDULE_MIN_SECONDS = 300
    with pytest.raises(DomainError) as refused:
        sync_schedule_set(actor=admin, repository=make_repository(), interval_seconds=60)
    assert refused.value.code == "interval_too_short"
    assert "300" in str(refused.value.message)


def test_switching_on_without_a_number_takes_the_platform_default_and_spreads_the_first_due_time(admin, settings):
    settings.SYNC_SCHEDULE_DEFAULT_SECONDS = 1800
    repository = make_repository()
    before = timezone.now()
    schedule = sync_schedule_set(actor=admin, repository=repository, interval_seconds=None)
    assert schedule.interval_seconds == 1800
    assert before <= schedule.next_at <= before + timedelta(seconds=1800 + 1)
    event = AuditEvent.objects.get(action="repository.sync_schedule")
    assert event.after == {"interval_seconds": 1800}
    sync_schedule_set(actor=admin, repository=repository, interval_seconds=None, enabled=False)
    assert SyncSchedule.objects.get(repository=repository).next_at is None


def test_only_maintainers_change_the_schedule():
    project = make_project()
    developer = make_user()
    make_member(developer, project, "developer")
    with pytest.raises(PermissionDenied):
        sync_schedule_set(actor=Actor.for_user(developer, "api"), repository=make_repository(project),
                          interval_seconds=3600)


def test_the_sweep_asks_due_repositories_with_the_schedule_trigger_and_moves_them_on(admin, enqueued,
                                                                                      django_capture_on_commit_callbacks):
    due = scheduled(admin, 3)
    later = scheduled(admin, 1, due=False)[0]
    SyncSchedule.objects.filter(repository=later).update(next_at=timezone.now() + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        report = scheduled_syncs_sweep()
    assert report == {"queued": 3, "joined": 0, "skipped": 0, "batches": 1}
    runs = SyncRun.objects.filter(repository__in=due)
    assert {run.trigger for run in runs} == {Trigger.SCHEDULE}
    assert sorted(enqueued) == sorted(run.pk for run in runs)
    assert not SyncRun.objects.filter(repository=later).exists()
    for schedule in SyncSchedule.objects.filter(repository__in=due):
        # interval + at most 10 % jitter from now
        assert timezone.now() + timedelta(seconds=590) < schedule.next_at < timezone.now() + timedelta(seconds=661)
    # Nothing due any more: a second sweep asks for nothing.
    assert scheduled_syncs_sweep()["queued"] == 0


def test_a_scheduled_sync_joins_the_one_already_queued(admin, enqueued, django_capture_on_commit_callbacks):
    repository = scheduled(admin, 1)[0]
    with django_capture_on_commit_callbacks(execute=True):
        queued = sync_request(actor=admin, repository=repository, trigger=Trigger.API).run
        report = scheduled_syncs_sweep()
    assert report["joined"] == 1
    queued.refresh_from_db()
    assert queued.joined_requests == 1
    assert queued.trigger_detail["joined"][0]["by"] == "sync-schedule"
    assert enqueued == [queued.pk]


def test_batches_cover_every_due_repository(admin, enqueued, django_capture_on_commit_callbacks):
    due = scheduled(admin, 7)
    with django_capture_on_commit_callbacks(execute=True):
        report = scheduled_syncs_sweep(batch_size=3)
    assert report == {"queued": 7, "joined": 0, "skipped": 0, "batches": 3}
    assert SyncRun.objects.filter(repository__in=due, trigger=Trigger.SCHEDULE).count() == 7


def test_archived_projects_are_skipped_and_switched_off(admin, enqueued):
    repository = scheduled(admin, 1)[0]
    Project.objects.filter(pk=repository.project_id).update(status=Project.Status.ARCHIVED)
    assert scheduled_syncs_sweep()["skipped"] == 1
    assert SyncSchedule.objects.get(repository=repository).next_at is None
    assert not SyncRun.objects.filter(repository=repository).exists()


def test_failures_back_off_exponentially_up_to_the_cap_and_a_success_resets(admin, settings):
    settings.SYNC_SCHEDULE_MAX_BACKOFF_SECONDS = 4000
    settings.SYNC_SCHEDULE_JITTER = 0
    repository = scheduled(admin, 1, interval=600)[0]
    now = timezone.now()
    waits = []
    for _ in range(4):
        sync_schedule_after_run(repository_id=repository.pk, failed=True, finished_at=now)
        waits.append((SyncSchedule.objects.get(repository=repository).next_at - now).total_seconds())
    assert waits == [1200, 2400, 4000, 4000]
    state = schedule_state(repository)
    assert state.backing_off and state.failure_streak == 4 and state.backoff_seconds == 4000
    sync_schedule_after_run(repository_id=repository.pk, failed=False, finished_at=now)
    schedule = SyncSchedule.objects.get(repository=repository)
    assert schedule.failure_streak == 0 and (schedule.next_at - now).total_seconds() == 600
    assert backoff_seconds(600, 200) == 4000  # a long streak never overflows past the cap


def test_a_failed_sync_counts_in_the_streak(admin, forge_server, monkeypatch, django_capture_on_commit_callbacks):
    from console.services import runs
    from console.services.syncs import sync_execute
    from tests.support.gitrepos import closed_port

    monkeypatch.setattr(runs, "MAX_ATTEMPTS", 1)
    stand_in(monkeypatch, "sync", lambda run_id: sync_execute(run_id=run_id, task_id=f"sync-{run_id}"))
    repository = make_repository(external_url=f"http://127.0.0.1:{closed_port()}/nothing.git")
    sync_schedule_set(actor=admin, repository=repository, interval_seconds=600)
    SyncSchedule.objects.filter(repository=repository).update(next_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        scheduled_syncs_sweep()
    run = SyncRun.objects.get(repository=repository)
    assert run.status == RunStatus.FAILED and run.trigger == Trigger.SCHEDULE
    schedule = SyncSchedule.objects.get(repository=repository)
    assert schedule.failure_streak == 1
    assert schedule.next_at > timezone.now() + timedelta(seconds=1190)


@pytest.mark.parametrize("count", [2, 6])
def test_the_sweep_query_count_is_fixed_plus_a_constant_per_repository(admin, enqueued, count,
                                                                       django_assert_num_queries):
    scheduled(admin, count)
    # The batch's savepoint, locking select and one bulk update and release; per repository the sync request's
    # savepoint, resource lock, queued lookup, insert and release. A short batch ends the sweep: no more query.
    with django_assert_num_queries(FIXED_QUERIES + PER_REPOSITORY_QUERIES * count):
        assert scheduled_syncs_sweep(batch_size=count + 1)["queued"] == count


FIXED_QUERIES = 4
PER_REPOSITORY_QUERIES = 5


def test_the_beat_schedule_runs_the_sweep():
    from console.celery import app
    import console.tasks  # noqa: F401 - registers the tasks

    entry = django_settings.CELERY_BEAT_SCHEDULE["scheduled-syncs"]
    assert entry["task"] == "dso.syncs.sweep_scheduled"
    assert entry["task"] in app.tasks


def test_the_api_reads_and_sets_the_schedule(settings):
    from rest_framework.test import APIClient

    settings.SYNC_SCHEDULE_MIN_SECONDS = 300
    project = make_project()
    maintainer, developer = make_user(), make_user()
    make_member(maintainer, project, "maintainer")
    make_member(developer, project, "developer")
    repository = make_repository(project)
    client = APIClient()
    url = f"/api/v1/repositories/{repository.pk}/sync-schedule/"
    client.force_authenticate(developer)
    assert client.get(url).json()["enabled"] is False
    assert client.put(url, {"enabled": True, "interval_seconds": 900}, format="json").status_code == 403
    client.force_authenticate(maintainer)
    refused = client.put(url, {"enabled": True, "interval_seconds": 60}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "interval_too_short"
    answer = client.put(url, {"enabled": True, "interval_seconds": 900}, format="json").json()
    assert answer["enabled"] and answer["interval_seconds"] == 900 and answer["next_at"]


def test_the_repository_page_says_when_the_schedule_backs_off(client, admin):
    project = make_project()
    maintainer = make_user()
    make_member(maintainer, project, "maintainer")
    repository = make_repository(project)
    client.force_login(maintainer)
    response = client.post(f"/repositories/{repository.pk}/sync-schedule/",
                           {"enabled": "on", "interval_minutes": "30"})
    assert response.status_code == 302
    assert SyncSchedule.objects.get(repository=repository).interval_seconds == 1800
    sync_schedule_after_run(repository_id=repository.pk, failed=True)
    sync_schedule_after_run(repository_id=repository.pk, failed=True)
    page = client.get(f"/repositories/{repository.pk}/").content.decode()
    assert "Every 30 minutes." in page
    assert "The last 2 syncs failed: scheduled syncs back off and wait 120 minutes." in page
