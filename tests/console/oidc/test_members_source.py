"""Roles from groups are marked as such where members are listed: the project page, the API, the admin."""

from __future__ import annotations

import pytest

from console.models import Membership, Role
from tests.factories import make_member, make_organization, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    project = make_project(make_organization("acme"), "shop")
    Membership.objects.create(user=make_user("from-groups"), organization=project.organization, project=project,
                              role=Role.DEVELOPER, source=Membership.Source.OIDC)
    make_member(make_user("from-console"), project, Role.READER)
    return project


def test_the_members_list_marks_group_roles(client, shop):
    client.force_login(make_user("root", staff=True))
    page = client.get(f"/projects/{shop.pk}/").content.decode()
    members = page[page.index('id="members"'):]
    row_groups = members[members.index("from-groups"):members.index("</tr>", members.index("from-groups"))]
    row_console = members[members.index("from-console"):members.index("</tr>", members.index("from-console"))]
    assert "from groups" in row_groups and "badge-oidc" in row_groups
    assert "from groups" not in row_console


def test_the_api_says_where_each_role_comes_from(client, shop):
    client.force_login(make_user("root", staff=True))
    members = client.get(f"/api/v1/projects/{shop.pk}/members/").json()
    members = members.get("results", members)
    assert {m["username"]: m["source"] for m in members} == {"from-groups": "oidc", "from-console": "console"}


def test_changing_a_group_role_in_the_console_makes_it_the_consoles(client, shop):
    client.force_login(make_user("root", staff=True))
    response = client.post(f"/api/v1/projects/{shop.pk}/members/", {"username": "from-groups", "role": "maintainer"},
                           content_type="application/json")
    assert response.status_code in (200, 201), response.content
    assert response.json()["source"] == "console"
    assert Membership.objects.get(user__username="from-groups").source == Membership.Source.CONSOLE


def test_the_admin_lists_and_filters_by_source(client, shop):
    client.force_login(make_user("root", staff=True))
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="root").update(is_superuser=True)
    page = client.get("/admin/console/membership/?source__exact=oidc").content.decode()
    assert "from-groups" in page and "from-console" not in page
