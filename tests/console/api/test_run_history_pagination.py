"""Run histories in the API page by cursor: newest first, every run once, stable while runs are added."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from console.models import ProvisioningRun, Role, SyncRun
from tests.factories import make_member, make_project, make_repository, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    user = make_user()
    project = make_project()
    make_member(user, project, Role.DEVELOPER)
    repository = make_repository(project)
    runs = SyncRun.objects.bulk_create(
        SyncRun(repository=repository, trigger="schedule", status="failed" if i % 4 == 0 else "no_change")
        for i in range(120))
    now = timezone.now()
    for index, run in enumerate(runs):
        SyncRun.objects.filter(pk=run.pk).update(queued_at=now - timedelta(seconds=index // 3))
    client = APIClient()
    client.force_authenticate(user)
    ordered = sorted(SyncRun.objects.filter(repository=repository), key=lambda r: (r.queued_at, r.pk), reverse=True)
    return client, repository, ordered


def walk(client, url: str) -> list[list[int]]:
    pages = []
    while url:
        body = client.get(url).json()
        assert "count" not in body
        pages.append([run["id"] for run in body["results"]])
        url = body["next"]
    return pages


@pytest.mark.parametrize("path", ["/api/v1/syncs/", "/api/v1/repositories/{pk}/syncs/"])
def test_next_links_visit_every_run_once_newest_first(setup, path):
    client, repository, ordered = setup

    pages = walk(client, path.format(pk=repository.pk))

    assert [len(p) for p in pages] == [50, 50, 20]
    assert sum(pages, []) == [run.pk for run in ordered]


def test_the_status_filter_survives_the_cursor(setup):
    client, _, ordered = setup

    pages = walk(client, "/api/v1/syncs/?status=failed")

    assert sum(pages, []) == [run.pk for run in ordered if run.status == "failed"]


def test_runs_queued_meanwhile_do_not_shift_the_next_page(setup):
    client, repository, ordered = setup
    following = client.get("/api/v1/syncs/").json()["next"]

    SyncRun.objects.create(repository=repository, trigger="api")

    assert [run["id"] for run in client.get(following).json()["results"]] == [run.pk for run in ordered[50:100]]


def test_a_mangled_cursor_is_a_clear_404(setup):
    client, _, _ = setup

    response = client.get("/api/v1/syncs/?cursor=bz1hYmM=")

    assert response.status_code == 404
    assert response.json()["detail"] and response.json()["code"]


def test_provisioning_runs_page_by_cursor_too(setup):
    client, repository, _ = setup
    ProvisioningRun.objects.bulk_create(ProvisioningRun(project=repository.project, trigger="api", status="succeeded")
                                        for _ in range(60))

    pages = walk(client, f"/api/v1/projects/{repository.project_id}/provisioning-runs/")

    assert [len(p) for p in pages] == [50, 10]
    assert len(set(sum(pages, []))) == 60
