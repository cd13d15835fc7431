"""The Sync button: one entry point (sync_request), joins a queued run, and a fragment to poll."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console.models import RefChange, SyncRun
from tests.factories import make_repository

pytestmark = pytest.mark.django_db


@pytest.fixture
def repository(owner_project):
    return make_repository(owner_project, "web")


def test_sync_button_queues_then_joins(
    client_for, user, repository, enqueued, django_capture_on_commit_callbacks
):
    client = client_for(user)

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(f"/repositories/{repository.pk}/sync/", follow=True)
    run = SyncRun.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(f"/repositories/{repository.pk}/sync/", follow=True)

    run.refresh_from_db()
    assert (run.trigger, run.status, run.actor, run.joined_requests) == ("portal", "queued", user, 1)
    assert SyncRun.objects.count() == 1
    assert enqueued["sync"] == [run.pk]
    assert first.redirect_chain[-1][0] == f"/repositories/{repository.pk}/"
    assert f"Sync #{run.pk} queued" in first.content.decode()
    assert f"Joined the queued sync #{run.pk}" in second.content.decode()


def test_sync_from_the_project_page_returns_there(client_for, user, repository):
    response = client_for(user).post(f"/repositories/{repository.pk}/sync/",
                                     {"next": f"/projects/{repository.project_id}/"})

    assert response["Location"] == f"/projects/{repository.project_id}/"


def test_sync_refuses_offsite_next(client_for, user, repository):
    url = f"/repositories/{repository.pk}/sync/"

    response = client_for(user).post(url, {"next": "https://evil.example/"})

    assert response["Location"] == f"/repositories/{repository.pk}/"


def test_sync_with_javascript_answers_202_json(client_for, user, repository):
    client = client_for(user)

    first = client.post(f"/repositories/{repository.pk}/sync/", HTTP_ACCEPT="application/json")
    second = client.post(f"/repositories/{repository.pk}/sync/", HTTP_ACCEPT="application/json")

    run = SyncRun.objects.get()
    assert first.status_code == 202
    assert first.json() == {"run_id": run.pk, "created": True, "status": "queued",
                            "message": f"Sync #{run.pk} queued", "partial_url": f"/syncs/{run.pk}/partial/"}
    assert second.json()["created"] is False


def test_developer_can_sync(client_for, developer_project):
    dave, project = developer_project
    repository = make_repository(project, "api")

    response = client_for(dave).post(f"/repositories/{repository.pk}/sync/")

    assert response.status_code == 302
    assert SyncRun.objects.get().actor == dave


def test_archived_project_sync_shows_the_conflict(client_for, user, repository):
    repository.project.status = "archived"
    repository.project.save()

    response = client_for(user).post(f"/repositories/{repository.pk}/sync/", follow=True)
    as_json = client_for(user).post(f"/repositories/{repository.pk}/sync/", HTTP_ACCEPT="application/json")

    assert "archived" in response.content.decode()
    assert as_json.status_code == 409
    assert not SyncRun.objects.exists()


def test_partial_renders_the_run_and_stops_polling_when_finished(client_for, user, repository):
    run = SyncRun.objects.create(repository=repository, trigger="portal", actor=user)
    client = client_for(user)

    queued = client.get(f"/syncs/{run.pk}/partial/").content.decode()
    now = timezone.now()
    SyncRun.objects.filter(pk=run.pk).update(status="succeeded", started_at=now - timedelta(seconds=3),
                                             finished_at=now)
    RefChange.objects.create(sync_run=run, ref="refs/heads/main", old_sha="a" * 40, new_sha="b" * 40,
                             kind="updated")
    finished = client.get(f"/syncs/{run.pk}/partial/").content.decode()
    summary = client.get(f"/syncs/{run.pk}/partial/?variant=summary").content.decode()

    assert queued.lstrip().startswith(f'<tr id="sync-run-{run.pk}" data-run-status="queued"')
    assert "data-poll-url" in queued
    assert 'data-run-status="succeeded"' in finished and "data-poll-url" not in finished
    assert "refs/heads/main" in finished and "aaaaaaaa" in finished and "bbbbbbbb" in finished
    assert "3.0 s" in finished
    assert f'id="repo-{repository.pk}-last-sync"' in summary and "badge-succeeded" in summary


def test_repository_page_shows_paginated_history(client_for, user, repository):
    for _ in range(25):
        SyncRun.objects.create(repository=repository, trigger="schedule", status="no_change")
    failed = SyncRun.objects.create(repository=repository, trigger="webhook", status="failed",
                                    error_code="authentication_failed", error_message="token expired")
    client = client_for(user)

    first = client.get(f"/repositories/{repository.pk}/")
    second = client.get(f"/repositories/{repository.pk}/?page=2")

    assert len(first.context["page"].object_list) == 20
    assert len(second.context["page"].object_list) == 6
    assert "token expired" in first.content.decode() and f"sync-run-{failed.pk}" in first.content.decode()
    assert "Page 1 of 2" in first.content.decode()


def test_repository_page_query_count_does_not_grow_with_runs(client_for, user, repository):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(user)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/repositories/{repository.pk}/").status_code == 200
        return len(queries)

    def add_run(index: int) -> None:
        run = SyncRun.objects.create(repository=repository, trigger="schedule", status="succeeded",
                                     actor=user)
        RefChange.objects.create(sync_run=run, ref=f"refs/heads/b{index}", new_sha="c" * 40, kind="created")

    add_run(0)
    with_one = count()
    for index in range(1, 6):
        add_run(index)

    assert count() == with_one


def test_project_page_lists_recent_syncs_with_their_ref_changes(client_for, user, owner_project):
    from console.models import RefChange, SyncRun
    from tests.factories import make_repository

    repository = make_repository(owner_project, "backend")
    run = SyncRun.objects.create(repository=repository, trigger="ci", status="succeeded")
    RefChange.objects.create(sync_run=run, ref="refs/heads/main", old_sha="a" * 40, new_sha="b" * 40, kind="forced")

    page = client_for(user).get(f"/projects/{owner_project.pk}/").content.decode()

    section = page[page.index('id="recent-syncs"'):]
    assert f"#{run.pk}" in section and "backend" in section
    assert "refs/heads/main" in section and "forced" in section and "aaaaaaaa" in section
