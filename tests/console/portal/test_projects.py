"""Project actions: re-provision, archive, manifests, members."""

from __future__ import annotations

import pytest

from console.models import Membership, ProvisioningRun, Role
from tests.factories import make_member, make_repository, make_user

pytestmark = pytest.mark.django_db


def test_reprovision_queues_then_joins(client_for, user, owner_project):
    client = client_for(user)

    first = client.post(f"/projects/{owner_project.pk}/provision/", follow=True)
    second = client.post(f"/projects/{owner_project.pk}/provision/", follow=True)

    run = ProvisioningRun.objects.get()
    assert (run.trigger, run.action) == ("portal", "provision")
    assert f"Provisioning #{run.pk} queued" in first.content.decode()
    assert f"Joined the queued provisioning #{run.pk}" in second.content.decode()


def test_archive_needs_owner(client_for, user, owner_project):
    maintainer = make_user("max")
    make_member(maintainer, owner_project, Role.MAINTAINER)

    refused = client_for(maintainer).post(f"/projects/{owner_project.pk}/archive/")
    archived = client_for(user).post(f"/projects/{owner_project.pk}/archive/")

    assert refused.status_code == 403
    assert archived.status_code == 302
    assert ProvisioningRun.objects.get().action == "archive"


def test_archive_carries_the_namespace_confirmation(client_for, user, owner_project):
    page = client_for(user).get(f"/projects/{owner_project.pk}/").content.decode()
    client_for(user).post(f"/projects/{owner_project.pk}/archive/", {"delete_namespace": "on"})

    assert 'name="delete_namespace"' in page
    assert {"cause": "project_archived", "delete_namespace": True} in ProvisioningRun.objects.get().causes


def test_project_page_shows_provisioning_result(client_for, user, owner_project):
    ProvisioningRun.objects.create(project=owner_project, trigger="portal", status="succeeded",
                                   result={"changed": True, "commit": "c0ffee1234567", "added": ["a", "b"]})

    page = client_for(user).get(f"/projects/{owner_project.pk}/").content.decode()

    assert "commit c0ffee12; 2 added" in page


def test_manifests_page_shows_yaml_and_downloads(client_for, user, owner_project):
    make_repository(owner_project, "deploy", is_infra=True, deploy_kind="kustomize", deploy_path="k8s")
    client = client_for(user)

    page = client.get(f"/projects/{owner_project.pk}/manifests/")
    download = client.get(f"/projects/{owner_project.pk}/manifests.yaml")

    content = page.content.decode()
    assert page.status_code == 200
    assert "<pre" in content and "kind: Namespace" in content and "kind: AppProject" in content
    assert owner_project.namespace in content
    assert download["Content-Type"].startswith("text/yaml")
    assert "attachment" in download["Content-Disposition"]
    assert b"kind: Application" in download.content


def test_owner_adds_changes_and_removes_a_member(client_for, user, owner_project):
    bob = make_user("bob")
    client = client_for(user)

    url = f"/projects/{owner_project.pk}/members/"
    added = client.post(url, {"member-username": "bob", "member-role": "developer"})
    client.post(url, {"member-username": "bob", "member-role": "maintainer"})
    membership = Membership.objects.get(user=bob)
    page = client.get(f"/projects/{owner_project.pk}/").content.decode()
    removed = client.post(f"/projects/{owner_project.pk}/members/{membership.pk}/remove/")

    assert added.status_code == 302
    assert membership.role == "maintainer" and membership.project == owner_project
    assert "bob" in page and "this project" in page
    assert removed.status_code == 302
    assert not Membership.objects.filter(user=bob).exists()


def test_unknown_member_username_is_shown_next_to_the_field(client_for, user, owner_project):
    response = client_for(user).post(f"/projects/{owner_project.pk}/members/",
                                     {"member-username": "nobody", "member-role": "developer"})

    assert response.status_code == 200
    assert "no user named 'nobody'" in response.context["member_form"].errors["username"][0]


def test_last_organization_owner_cannot_be_removed(client_for, user, owner_project):
    membership = Membership.objects.get(user=user, project=None)

    url = f"/projects/{owner_project.pk}/members/{membership.pk}/remove/"

    response = client_for(user).post(url, follow=True)

    assert "at least one owner" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_developer_cannot_manage_members(client_for, developer_project):
    dave, project = developer_project
    make_user("eve")

    response = client_for(dave).post(f"/projects/{project.pk}/members/",
                                     {"member-username": "eve", "member-role": "owner"})

    assert response.status_code == 403
