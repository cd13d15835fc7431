"""Sign-in is required and every object is fetched through the selectors: others' objects are 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from console.models import Role, SyncRun
from tests.factories import make_member, make_organization, make_project, make_repository, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", [
    "/", "/organizations/new/", "/projects/new/", "/projects/1/", "/repositories/1/", "/syncs/1/partial/",
])
def test_pages_require_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_renders(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_home_lists_only_my_organizations_and_projects(client_for, user, owner_project):
    make_project(make_organization("umbrella", owner=make_user()), "secret-lab")

    response = client_for(user).get("/")

    assert response.status_code == 200
    assert owner_project.name in response.content.decode()
    assert "umbrella" not in response.content.decode()
    assert "secret-lab" not in response.content.decode()


def test_project_level_member_sees_only_that_project(client_for, developer_project):
    dave, project = developer_project
    sibling = make_project(project.organization, "payroll")

    home = client_for(dave).get("/").content.decode()

    assert project.name in home
    assert sibling.name not in home
    assert client_for(dave).get(f"/projects/{sibling.pk}/").status_code == 404


def test_objects_of_other_organizations_are_404(client_for, user, developer_project):
    _, project = developer_project
    repository = make_repository(project, "api")
    run = SyncRun.objects.create(repository=repository, trigger="api")
    client = client_for(user)

    assert client.get(f"/projects/{project.pk}/").status_code == 404
    assert client.get(f"/projects/{project.pk}/manifests/").status_code == 404
    assert client.get(f"/organizations/{project.organization.slug}/").status_code == 404
    assert client.get(f"/repositories/{repository.pk}/").status_code == 404
    assert client.get(f"/syncs/{run.pk}/partial/").status_code == 404
    assert client.post(f"/repositories/{repository.pk}/sync/").status_code == 404
    assert not SyncRun.objects.exclude(pk=run.pk).exists()


def test_reader_sees_no_buttons_and_gets_403_when_posting(client_for, owner_project):
    reader = make_user("rita")
    make_member(reader, owner_project, Role.READER)
    repository = make_repository(owner_project, "web")
    client = client_for(reader)

    page = client.get(f"/projects/{owner_project.pk}/").content.decode()
    sync = client.post(f"/repositories/{repository.pk}/sync/")
    provision = client.post(f"/projects/{owner_project.pk}/provision/")

    assert "Re-provision" not in page and "Register repository" not in page and ">Sync<" not in page
    assert sync.status_code == 403 and b"needs the developer" in sync.content
    assert provision.status_code == 403
    assert not SyncRun.objects.exists()


def test_project_page_query_count_does_not_grow_with_repositories(client_for, user, owner_project):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(user)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/projects/{owner_project.pk}/").status_code == 200
        return len(queries)

    first = make_repository(owner_project, "one")
    SyncRun.objects.create(repository=first, trigger="portal")
    with_one = count()
    for name in ("two", "three", "four"):
        SyncRun.objects.create(repository=make_repository(owner_project, name), trigger="portal")
    make_member(make_user(), owner_project)

    assert count() == with_one


def test_staff_home_is_paginated_and_searchable(client_for, db):
    from console.portal.views.organizations import HOME_PROJECTS_PER_PAGE

    staff = make_user("root", staff=True)
    organization = make_organization("bulk", owner=make_user())
    for index in range(HOME_PROJECTS_PER_PAGE + 5):
        make_project(organization, f"svc-{index:03d}")
    make_organization("empty-one")
    client = client_for(staff)

    first, second = client.get("/"), client.get("/?page=2")
    found = client.get("/?q=svc-054").content.decode()

    assert first.context["page"].paginator.count == HOME_PROJECTS_PER_PAGE + 5
    assert "svc-000" in first.content.decode() and "svc-054" not in first.content.decode()
    assert "svc-054" in second.content.decode()
    assert "empty-one" in second.content.decode() and "empty-one" not in first.content.decode()
    assert "svc-054" in found and "svc-000" not in found
    assert "empty-one" in client.get("/?q=empty").content.decode()
