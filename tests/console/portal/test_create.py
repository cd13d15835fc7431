"""Creating organizations and projects through the portal goes through the services."""

from __future__ import annotations

import pytest

from console.models import AuditEvent, Membership, Organization, Project, ProvisioningRun, Role
from tests.factories import make_organization, make_user

pytestmark = pytest.mark.django_db


def test_create_organization_makes_me_owner(client_for, user):
    client = client_for(user)

    response = client.post("/organizations/new/", {"slug": "acme", "name": "Acme Corp"}, follow=True)

    organization = Organization.objects.get(slug="acme")
    assert response.redirect_chain[-1][0] == "/organizations/acme/"
    owner = Membership.objects.get(user=user, organization=organization, project=None)
    assert owner.role == Role.OWNER
    assert AuditEvent.objects.filter(action="organization.create", interface="portal", actor=user).exists()
    assert "Organization acme created" in response.content.decode()


def test_invalid_organization_slug_is_shown_next_to_the_field(client_for, user):
    response = client_for(user).post("/organizations/new/", {"slug": "Not_Valid", "name": ""})

    assert response.status_code == 200
    assert not Organization.objects.exists()
    form = response.context["form"]
    assert "not a valid name" in form.errors["slug"][0]
    assert 'class="field-error"' in response.content.decode()


def test_reserved_organization_slug_is_refused(client_for, user):
    response = client_for(user).post("/organizations/new/", {"slug": "admin"})

    assert "reserved" in response.context["form"].errors["slug"][0]


def test_create_project_queues_provisioning_and_shows_provisioning(
    client_for, user, enqueued, django_capture_on_commit_callbacks
):
    organization = make_organization("acme", owner=user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).post(
            "/organizations/acme/projects/new/", {"slug": "shop", "name": "Shop", "description": "Web shop"}
        )

    project = Project.objects.get(organization=organization, slug="shop")
    run = ProvisioningRun.objects.get(project=project)
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/"
    assert (run.status, run.trigger, run.actor) == ("queued", "portal", user)
    assert enqueued["provisioning"] == [run.pk]
    audit = AuditEvent.objects.get(action="project.create", target_id=str(project.pk))
    assert audit.interface == "portal"

    page = client_for(user).get(response["Location"]).content.decode()
    assert "badge-provisioning" in page and project.namespace in page and f"#{run.pk}" in page


def test_create_project_choosing_the_organization(client_for, user):
    make_organization("acme", owner=user)

    response = client_for(user).post("/projects/new/", {"organization": "acme", "slug": "shop"})

    assert response.status_code == 302
    assert Project.objects.filter(organization__slug="acme", slug="shop").exists()


def test_invalid_project_slug_is_shown_and_nothing_is_created(client_for, user):
    make_organization("acme", owner=user)

    response = client_for(user).post("/organizations/acme/projects/new/", {"slug": "-bad-", "name": "Bad"})

    assert response.status_code == 200
    assert "not a valid name" in response.context["form"].errors["slug"][0]
    assert not Project.objects.exists() and not ProvisioningRun.objects.exists()


def test_duplicate_project_slug_is_shown_on_the_slug_field(client_for, user, owner_project):
    response = client_for(user).post("/organizations/acme/projects/new/", {"slug": "shop"})

    assert "already exists" in response.context["form"].errors["slug"][0]
    assert "already exists" in response.content.decode()


def test_reader_of_organization_gets_403_creating_a_project(client_for):
    reader = make_user("rita")
    organization = make_organization("acme")
    Membership.objects.create(user=reader, organization=organization, role=Role.READER)

    response = client_for(reader).post("/organizations/acme/projects/new/", {"slug": "shop"})

    assert response.status_code == 403
    assert b"maintainer or owner" in response.content
    assert not Project.objects.exists()
