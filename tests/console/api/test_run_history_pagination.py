"""Run histories in the API page by cursor: newest first, every run once, stable while runs are added."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from console.models import Membership, ProvisioningRun, Role, SyncRun
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


@pytest.fixture
def spread():
    """A member of one project and of a whole organization, with one deep repository among shallow ones, runs
    interleaved in time and sharing queued_at by threes; staff sees the same runs among others."""
    member, staff = make_user(), make_user(staff=True)
    project, other = make_project(), make_project()
    make_member(member, project, Role.DEVELOPER)
    Membership.objects.create(user=member, organization=other.organization, role=Role.DEVELOPER)
    repositories = [make_repository(project), make_repository(project), make_repository(other)]
    invisible = make_repository(make_project())
    now = timezone.now()
    plan = [(repositories[0], i) for i in range(150)] + [(repositories[1], 3 * i) for i in range(20)] + [
        (repositories[2], 5 * i + 1) for i in range(15)] + [(invisible, i) for i in range(40)]
    runs = SyncRun.objects.bulk_create(
        SyncRun(repository=repository, trigger="schedule", status="failed" if i % 7 == 0 else "no_change")
        for repository, i in plan)
    for run, (_, i) in zip(runs, plan):
        SyncRun.objects.filter(pk=run.pk).update(queued_at=now - timedelta(seconds=i // 3))
    visible = sorted(SyncRun.objects.filter(repository__in=repositories), key=lambda r: (r.queued_at, r.pk),
                     reverse=True)
    clients = {}
    for name, user in (("member", member), ("staff", staff)):
        clients[name] = APIClient()
        clients[name].force_authenticate(user)
    return clients, visible, invisible


def walk_back(client, url: str) -> list[int]:
    """Every run from the last page back to the first, by the previous links."""
    while (body := client.get(url).json())["next"]:
        url = body["next"]
    seen = []
    while url:
        body = client.get(url).json()
        seen = [run["id"] for run in body["results"]] + seen
        url = body["previous"]
    return seen


@pytest.mark.parametrize("narrowed_rows", [25_500, 2 * 51])
@pytest.mark.parametrize("query", ["", "?status=failed"])
def test_a_members_history_read_repository_by_repository_is_the_same_history(spread, monkeypatch, narrowed_rows,
                                                                            query):
    """A member's history is read off each visible repository's own index (or, past a budget of rows, off
    the global one): either way the same runs, in the same order, both ways, filter included. With a
    budget of two repositories' pages, three visible repositories take the global walk."""
    from console import selectors

    monkeypatch.setattr(selectors, "NARROWED_HISTORY_MAX_ROWS", narrowed_rows)
    clients, visible, invisible = spread
    expected = [run.pk for run in visible if not query or run.status == "failed"]

    forward = sum(walk(clients["member"], f"/api/v1/syncs/{query}"), [])
    backward = walk_back(clients["member"], f"/api/v1/syncs/{query}")
    staff = [pk for pk in sum(walk(clients["staff"], f"/api/v1/syncs/{query}"), []) if pk in set(expected)]

    assert forward == expected
    assert backward == expected
    assert staff == expected
    assert not set(forward) & set(invisible.sync_runs.values_list("pk", flat=True))


def test_a_cursor_whose_position_is_no_time_is_a_clear_404(spread):
    import base64

    clients, _, _ = spread
    for position in ("not-a-time", "2026-13-45 99:00:00"):
        cursor = base64.b64encode(f"o=0&r=0&p={position}".encode()).decode()
        for role in ("member", "staff"):
            response = clients[role].get("/api/v1/syncs/", {"cursor": cursor})
            assert response.status_code == 404, (role, position, response.content[:200])
            assert response.json()["detail"] and response.json()["code"]
