"""The dashboard, organization members in the portal, the activity feed and the operations view."""

from __future__ import annotations

import pytest

from console.models import AuditEvent, Membership, ProvisioningRun, Role, RunStatus, SyncRun
from console.models.images import ImageRelease
from tests.factories import make_member, make_organization, make_project, make_repository, make_user

pytestmark = pytest.mark.django_db


def test_dashboard_lists_my_projects_with_last_sync_and_warnings(client_for, user, owner_project,
                                                                 django_assert_num_queries):
    app = make_repository(owner_project, "app")
    SyncRun.objects.create(repository=app, trigger="portal", status=RunStatus.FAILED)
    ImageRelease.objects.create(project=owner_project, repository=app, image="registry.example.com/app",
                                tag="1.2.0", source="ci_report")
    for number in range(3):
        make_project(owner_project.organization, f"extra{number}")
    make_project(make_organization("other", owner=make_user("stranger")), "secretproj")
    client = client_for(user)
    client.get("/dashboard/")  # warm the session

    with django_assert_num_queries(5):  # session, user, count, page of projects, organizations
        page = client.get("/dashboard/").content.decode()

    assert "4 projects" in page and "secretproj" not in page
    assert "1 image waiting" in page and 'badge-failed">Failed' in page and "1 needs attention" in page
    searched = client.get("/dashboard/?q=extra1").content.decode()
    assert "acme/extra1" in searched and "acme/shop" not in searched
    empty = client.get("/dashboard/?q=nothing-like-this").content.decode()
    assert "Nothing matches" in empty


def test_dashboard_empty_state_says_what_to_do(client_for):
    page = client_for(make_user("newcomer")).get("/dashboard/").content.decode()
    assert "You are not a member of any organization yet" in page


def test_organization_owner_finds_adds_and_removes_members(client_for, user, owner_project):
    make_user("bruno.martin")
    client = client_for(user)

    found = client.get("/organizations/acme/?find=bru").content.decode()
    added = client.post("/organizations/acme/members/", {"member-username": "bruno.martin",
                                                         "member-role": "maintainer"}, follow=True)
    membership = Membership.objects.get(user__username="bruno.martin")
    removed = client.post(f"/organizations/acme/members/{membership.pk}/remove/", follow=True)

    assert 'id="user-matches"' in found and "bruno.martin" in found
    assert "bruno.martin is now Maintainer of acme." in added.content.decode()
    assert (membership.organization.slug, membership.project_id, membership.role) == ("acme", None, "maintainer")
    assert "Removed bruno.martin (Maintainer)." in removed.content.decode()
    assert not Membership.objects.filter(user__username="bruno.martin").exists()


def test_a_developer_cannot_manage_organization_members(client_for, developer_project):
    dave, project = developer_project
    client = client_for(dave)
    page = client.get(f"/organizations/{project.organization.slug}/").content.decode()
    refused = client.post(f"/organizations/{project.organization.slug}/members/",
                          {"member-username": "dave", "member-role": "owner"})
    assert "Organization members" not in page
    assert refused.status_code == 403
    assert not Membership.objects.filter(user=dave, project__isnull=True).exists()


def test_the_project_page_shows_its_activity(client_for, user, owner_project):
    client = client_for(user)
    client.post(f"/projects/{owner_project.pk}/archive/")
    page = client.get(f"/projects/{owner_project.pk}/").content.decode()
    event = AuditEvent.objects.get(action="project.archive")
    assert 'id="activity"' in page and "<code>project.archive</code>" in page and event.actor_label in page
    assert "through Portal" in page


def test_operations_view_counts_runs_and_groups_failures(client_for, owner_project):
    admin = make_user("root", staff=True)
    app = make_repository(owner_project, "app")
    SyncRun.objects.create(repository=app, trigger="portal", status=RunStatus.QUEUED)
    SyncRun.objects.create(repository=app, trigger="portal", status=RunStatus.FAILED, error_code="auth_failed")
    ProvisioningRun.objects.create(project=owner_project, trigger="portal", status=RunStatus.FAILED,
                                   error_code="auth_failed")
    page = client_for(admin).get("/operations/").content.decode()
    assert "Runs across the platform" in page and "<strong>2</strong> <code>auth_failed</code>" in page
    assert f"sync #{SyncRun.objects.filter(status='queued').get().pk}" in page


def test_operations_view_is_for_platform_admins(client_for, user):
    assert client_for(user).get("/operations/").status_code == 403
    assert client_for(user).post("/operations/", {"action": "reprovision"}).status_code == 403


def test_bulk_actions_say_what_they_queued(client_for, owner_project):
    admin = make_user("root", staff=True)
    archived = make_project(owner_project.organization, "old")
    archived.status = "archived"
    archived.save()
    make_repository(owner_project, "app")
    client = client_for(admin)

    provisioned = client.post("/operations/", {"action": "reprovision",
                                               "projects": [owner_project.pk, archived.pk]}, follow=True)
    synced = client.post("/operations/", {"action": "sync", "projects": [owner_project.pk]}, follow=True)
    nothing = client.post("/operations/", {"action": "sync"}, follow=True)

    run = ProvisioningRun.objects.get()
    sync = SyncRun.objects.get()
    assert f"acme/shop: provisioning run #{run.pk} queued" in provisioned.content.decode()
    assert "acme/old: the project is archived" in provisioned.content.decode()
    assert f"acme/shop/app: sync run #{sync.pk} queued" in synced.content.decode()
    assert "select at least one project" in nothing.content.decode()
    assert (run.trigger, sync.trigger) == ("admin", "admin")


def test_operations_view_query_count_does_not_grow_with_runs(client_for, owner_project, django_assert_num_queries):
    admin = make_user("root", staff=True)
    app = make_repository(owner_project, "app")
    client = client_for(admin)
    client.get("/operations/")
    for _ in range(5):
        SyncRun.objects.create(repository=app, trigger="portal", status=RunStatus.FAILED, error_code="boom")
        ProvisioningRun.objects.create(project=owner_project, trigger="portal", status=RunStatus.FAILED,
                                       error_code="boom")
    SyncRun.objects.create(repository=app, trigger="portal", status=RunStatus.QUEUED)
    # session, user; counts (3 kinds); oldest (2 kinds); reasons (3 kinds); projects count and page
    with django_assert_num_queries(12):
        client.get("/operations/")
