"""The repository page walks its sync history by keyset: newest first, every run exactly once, and a run
queued while someone reads an older page does not shift that page."""

from __future__ import annotations

from datetime import timedelta
from html import escape

import pytest
from django.utils import timezone

from console.models import SyncRun
from tests.factories import make_repository


@pytest.fixture
def repository(owner_project):
    return make_repository(owner_project, "api")


def make_runs(repository, count: int) -> list[int]:
    runs = SyncRun.objects.bulk_create(SyncRun(repository=repository, trigger="schedule", status="no_change")
                                       for _ in range(count))
    now = timezone.now()
    for index, run in enumerate(runs):
        # Pairs share a queue time, as a schedule that fires for many repositories at once makes them.
        SyncRun.objects.filter(pk=run.pk).update(queued_at=now - timedelta(seconds=index // 2))
    return [run.pk for run in sorted(SyncRun.objects.filter(repository=repository),
                                     key=lambda r: (r.queued_at, r.pk), reverse=True)]


def walk(client, url: str, direction: str) -> list[list[int]]:
    pages = []
    query = ""
    while query is not None:
        page = client.get(f"{url}?{query}").context["page"]
        pages.append([run.pk for run in page.object_list])
        query = page.older_query if direction == "older" else page.newer_query
    return pages


def test_older_links_visit_every_run_once_newest_first(client_for, user, repository):
    expected = make_runs(repository, 45)
    client = client_for(user)

    pages = walk(client, f"/repositories/{repository.pk}/", "older")

    assert [len(p) for p in pages] == [20, 20, 5]
    assert sum(pages, []) == expected
    url = f"/repositories/{repository.pk}/"
    second = client.get(f"{url}?{client.get(url).context['page'].older_query}")
    assert "Page 2 of 3" in second.content.decode()


def test_newer_links_come_back_to_the_first_page(client_for, user, repository):
    expected = make_runs(repository, 45)
    client = client_for(user)
    url = f"/repositories/{repository.pk}/"
    second = client.get(f"{url}?{client.get(url).context['page'].older_query}").context["page"]
    third = client.get(f"{url}?{second.older_query}").context["page"]

    back = client.get(f"{url}?{third.newer_query}").context["page"]

    assert [r.pk for r in back.object_list] == expected[20:40] and back.number == 2
    assert back.newer_query == ""  # the first page is the plain URL, and it polls
    assert client.get(f"{url}?{back.newer_query}").context["live_history"] is True


def test_a_run_queued_meanwhile_does_not_shift_an_older_page(client_for, user, repository):
    expected = make_runs(repository, 30)
    client = client_for(user)
    url = f"/repositories/{repository.pk}/"
    older = client.get(url).context["page"].older_query

    SyncRun.objects.create(repository=repository, trigger="api")

    assert [r.pk for r in client.get(f"{url}?{older}").context["page"].object_list] == expected[20:]


@pytest.mark.parametrize("cursor", ["before=junk", "before=1.2.3", "after=99999999999999999999999.1", "page=x"])
def test_a_mangled_cursor_shows_the_first_page(client_for, user, repository, cursor):
    expected = make_runs(repository, 25)

    response = client_for(user).get(f"/repositories/{repository.pk}/?{cursor}")

    assert response.status_code == 200
    assert [r.pk for r in response.context["page"].object_list] == expected[:20]


def test_the_history_page_walks_the_same_history_and_the_repository_page_leads_there(client_for, user, repository):
    expected = make_runs(repository, 45)
    client = client_for(user)
    history = f"/repositories/{repository.pk}/syncs/"

    pages = walk(client, history, "older")

    assert sum(pages, []) == expected and [len(p) for p in pages] == [20, 20, 5]
    older = client.get(f"/repositories/{repository.pk}/").context["page"].older_query
    assert f'href="{history}?{escape(older)}#sync-history"' in client.get(f"/repositories/{repository.pk}/").content.decode()
    second = client.get(f"{history}?{older}").content.decode()
    assert "Page 2 of 3" in second and f'href="{history}?' in second  # its own links stay on the history page


def test_the_history_page_is_for_those_who_see_the_repository(client_for, repository, django_user_model):
    outsider = django_user_model.objects.create_user("outsider", password="pw-outsider-1")
    assert client_for(outsider).get(f"/repositories/{repository.pk}/syncs/").status_code == 404
