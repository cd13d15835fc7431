"""Every list and detail page of the API and the portal runs the same number of SQL queries whatever the data
size: each is measured on a small and on a three-times larger data set, and the count is pinned, so an N+1 (or a
query moved into a loop) fails here instead of at ten thousand projects."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from console.models import (
    ContainerRegistry,
    DiscoveredTag,
    Membership,
    NotificationDelivery,
    NotificationTarget,
    ProvisioningRun,
    RefChange,
    RegistryWatchRun,
    Repository,
    Role,
    SyncRun,
    TagPolicy,
    WatchedImage,
)
from tests.factories import make_organization, make_project, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def enqueued(monkeypatch):
    stand_in(monkeypatch, "sync", lambda run_id: None)
    stand_in(monkeypatch, "provisioning", lambda run_id: None)


def populate(size: int) -> dict:
    """An organization of ``size`` projects, each with ``size`` repositories of ``15 * size`` runs with two ref
    changes each; ``size`` members; and another organization nobody here belongs to."""
    member = make_user(f"member{size}")
    staff = make_user(f"staff{size}", staff=True)
    organization = make_organization(f"org{size}", owner=member)
    make_project(make_organization(f"other{size}"), "hidden")
    now = timezone.now()
    for p in range(size):
        project = make_project(organization, f"p{size}-{p}")
        Membership.objects.bulk_create(
            Membership(user=make_user(f"m{size}-{p}"), organization=organization, project=project,
                       role=Role.DEVELOPER) for _ in range(1))
        ProvisioningRun.objects.bulk_create(
            ProvisioningRun(project=project, trigger="api", status="succeeded", actor=member) for _ in range(size))
        for r in range(size):
            repository = Repository.objects.create(project=project, name=f"r{r}",
                                                   external_url="https://git.example.com/team/app.git")
            runs = SyncRun.objects.bulk_create(
                SyncRun(repository=repository, trigger="schedule", actor=member if i % 2 else None,
                        status="failed" if i % 3 == 0 else "succeeded", finished_at=now)
                for i in range(15 * size))
            RefChange.objects.bulk_create(
                RefChange(sync_run=run, ref=f"refs/heads/b{k}", old_sha="a" * 40, new_sha="b" * 40,
                          kind="updated") for run in runs for k in range(2))
        _registries_and_notifications(project, size)
    # Distinct queue times, some shared, as happens when a schedule fires for many repositories at once.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE console_syncrun SET queued_at = %s - (id / 2) * interval '1 second'", [now])
    # Which run is a repository's newest depends on the ids' parity above; one failed project keeps the
    # dashboard's "needing attention" page non-empty whatever the ids (an empty page skips its row query).
    organization.projects.filter(pk=organization.projects.order_by("slug").last().pk).update(status="failed")
    project = organization.projects.order_by("slug").first()
    repository = project.repositories.order_by("name").first()
    return {"member": member, "staff": staff, "organization": organization, "project": project,
            "repository": repository, "run": repository.sync_runs.order_by("-queued_at", "-id").first()}


def _registries_and_notifications(project, size: int) -> None:
    """``size`` registries of ``size`` watched images, each with tags, a policy per repository and a few
    watch runs; ``size`` notification targets with ``15 * size`` deliveries each."""
    repositories = list(project.repositories.all())
    for g in range(size):
        registry = ContainerRegistry.objects.create(project=project, name=f"reg{g}", url=f"https://r{g}.example.com",
                                                    token="t" if g % 2 else "")
        RegistryWatchRun.objects.bulk_create(RegistryWatchRun(registry=registry, trigger="schedule",
                                                              status="succeeded") for _ in range(size))
        for i in range(size):
            image = WatchedImage.objects.create(registry=registry, repository=f"team/app{i}")
            DiscoveredTag.objects.bulk_create(DiscoveredTag(image=image, tag=f"1.{t}.0") for t in range(size))
            TagPolicy.objects.bulk_create(TagPolicy(image=image, repository=r, constraint="~1") for r in repositories)
    for n in range(size):
        target = NotificationTarget.objects.create(project=project, kind="email", emails=[f"ops{n}@example.com"])
        NotificationDelivery.objects.bulk_create(NotificationDelivery(target=target, event="sync_failed")
                                                 for _ in range(15 * size))


API_PAGES = {
    "organizations": "/api/v1/organizations/",
    "organization": "/api/v1/organizations/{organization.pk}/",
    "projects": "/api/v1/projects/",
    "project": "/api/v1/projects/{project.pk}/",
    "project repositories": "/api/v1/projects/{project.pk}/repositories/",
    "project members": "/api/v1/projects/{project.pk}/members/",
    "provisioning runs": "/api/v1/projects/{project.pk}/provisioning-runs/",
    "project warnings": "/api/v1/projects/{project.pk}/warnings/",
    "repository": "/api/v1/repositories/{repository.pk}/",
    "repository syncs": "/api/v1/repositories/{repository.pk}/syncs/",
    "repository images": "/api/v1/repositories/{repository.pk}/images/",
    "repository image tags": "/api/v1/repositories/{repository.pk}/image-tags/",
    "syncs": "/api/v1/syncs/",
    "failed syncs": "/api/v1/syncs/?status=failed",
    "sync": "/api/v1/syncs/{run.pk}/",
}

PORTAL_PAGES = {
    "home": "/",
    "home search": "/?q=p",
    "dashboard": "/dashboard/",
    "dashboard needing attention": "/dashboard/?show=attention",
    "organization": "/organizations/{organization.slug}/",
    "project": "/projects/{project.pk}/",
    "project live": "/projects/{project.pk}/live/",
    "repository": "/repositories/{repository.pk}/",
    "repository live": "/repositories/{repository.pk}/live/",
    "repository syncs": "/repositories/{repository.pk}/syncs/",
    "sync partial": "/syncs/{run.pk}/partial/",
    "project registries": "/projects/{project.pk}/registries/",
    "project notifications": "/projects/{project.pk}/notifications/",
}

# Pinned per page as (member, staff); a change here changes what a page costs: say why in the commit.
EXPECTED = {
    "api organizations": (2, 2),
    "api organization": (1, 1),
    "api projects": (2, 2),
    "api project": (1, 1),
    "api project repositories": (3, 3),
    "api project members": (3, 3),
    "api provisioning runs": (2, 2),
    "api project warnings": (2, 2),  # the pins that say "pinned" on a warning are read only when there is one
    "api repository": (1, 1),
    "api repository syncs": (3, 3),
    "api repository images": (2, 2),
    "api repository image tags": (2, 2),
    # A member's: + the visible repositories, whose histories are read one by one (selectors).
    "api syncs": (3, 2),
    "api failed syncs": (3, 2),
    "api sync": (3, 3),  # its project's open releases (issue 12's sync detail); no pins without one
    "portal home": (5, 5),
    "portal home search": (5, 5),
    "portal dashboard": (5, 5),  # the page of projects carries their deployment health
    "portal dashboard needing attention": (5, 5),
    "portal organization": (7, 5),  # + members section (for those who manage them), quota limits
    # Pending work is read by one query saying there is none (three more when there is: see below).
    "portal project": (17, 17),  # + quota, what runs, drift, pins, activity feed, schedules
    "portal project live": (16, 16),  # the same sections, refreshed
    "portal repository": (16, 15),  # + Argo CD deployment, sync schedule, pins
    "portal repository live": (16, 15),
    "portal sync partial": (4, 4),
    "portal project registries": (9, 9),  # registries, images with tag counts, policies, last watches, infra
    "portal project notifications": (8, 7),  # targets, deliveries counted and one page of them
    "api syncs next page": (3, 2),
    "portal repository older page": (15, 14),
    "portal repository syncs": (7, 7),  # the history alone: session, user, repository, count, runs, refs
    "portal repository syncs older page": (6, 6),
}


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return len(queries)


def measure(size: int) -> dict[tuple[str, str], int]:
    data = populate(size)
    counts = {}
    for role in ("member", "staff"):
        api, portal = APIClient(), Client()
        api.force_authenticate(data[role])
        portal.force_login(data[role])
        for name, url in API_PAGES.items():
            counts[(role, f"api {name}")] = count_queries(api, url.format(**data))
        for name, url in PORTAL_PAGES.items():
            counts[(role, f"portal {name}")] = count_queries(portal, url.format(**data))
        # Deeper pages of the histories, by the links the pages themselves give.
        history = api.get(API_PAGES["syncs"]).json()
        counts[(role, "api syncs next page")] = count_queries(api, history["next"]) if history["next"] else None
        page = portal.get(f"/repositories/{data['repository'].pk}/").context["page"]
        counts[(role, "portal repository older page")] = count_queries(
            portal, f"/repositories/{data['repository'].pk}/?{page.older_query}")
        history = f"/repositories/{data['repository'].pk}/syncs/"
        counts[(role, "portal repository syncs older page")] = count_queries(
            portal, f"{history}?{portal.get(history).context['page'].older_query}")
    return counts


def test_query_counts_do_not_grow_with_the_data():
    small, large = measure(2), measure(6)

    assert small == large
    assert small == {(role, page): counts[index] for page, counts in EXPECTED.items()
                     for index, role in enumerate(("member", "staff"))}


def test_pending_work_costs_three_queries_more_however_much_is_pending():
    """The pages read pending work with one query while there is none; with work pending, that query and one
    per kind (provisioning, syncs, bumps), whatever the number of pending runs."""
    counts = {}
    for size in (2, 6):
        data = populate(size)
        portal = Client()
        portal.force_login(data["member"])
        for repository in data["project"].repositories.all():
            SyncRun.objects.create(repository=repository, trigger="api", status="queued")
        ProvisioningRun.objects.create(project=data["project"], trigger="api", status="queued")
        url = f"/projects/{data['project'].pk}/"
        assert portal.get(url).context["activity"]["any"]
        counts[size] = (count_queries(portal, url), count_queries(portal, f"{url}live/"))

    assert counts[2] == counts[6] == (EXPECTED["portal project"][0] + 3, EXPECTED["portal project live"][0] + 3)
