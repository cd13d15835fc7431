"""The portal's quota: chosen on the new-project form, shown and edited on the project page, the model's
messages next to the field."""

from __future__ import annotations

import pytest

from console.models import Project, ProvisioningCause, ProvisioningRun, Role
from tests.factories import make_member, make_organization, make_user

pytestmark = pytest.mark.django_db


def test_new_project_form_takes_a_quota_and_shows_the_limits(client_for, user):
    make_organization("acme", owner=user)
    client = client_for(user)
    form_page = client.get("/organizations/acme/projects/new/").content.decode()
    assert 'name="quota_cpu"' in form_page and "At most 32." in form_page
    response = client.post("/organizations/acme/projects/new/", {"slug": "shop", "quota_cpu": "2500m",
                                                                 "quota_pods": "12"})  # fmt: skip
    assert response.status_code == 302, response.content.decode()
    project = Project.objects.get(slug="shop")
    assert project.quota["cpu"] == "2500m" and project.quota["pods"] == 12
    assert project.quota["memory"] == "16Gi"  # blank: the platform default


def test_new_project_over_the_limit_shows_the_limit_next_to_the_field(client_for, user):
    make_organization("acme", owner=user)
    response = client_for(user).post("/organizations/acme/projects/new/", {"slug": "shop", "quota_memory": "1Ti"})
    assert response.status_code == 200
    assert response.context["form"].errors["quota_memory"] == ["Memory 1Ti exceeds the organization's limit of 64Gi"]
    assert not Project.objects.filter(slug="shop").exists()


def test_project_page_shows_quota_limits_and_where_usage_will_appear(client_for, owner_project, user):
    page = client_for(user).get(f"/projects/{owner_project.pk}/").content.decode()
    assert 'id="quota"' in page and 'data-quota-usage="cpu"' in page
    assert "usage when a cluster is connected" in page
    assert "<code>64Gi</code>" in page  # the organization's memory limit
    assert 'action="/projects/%d/quota/#quota"' % owner_project.pk in page


def test_maintainer_edits_the_quota_and_the_project_is_reprovisioned(client_for, owner_project, enqueued,
                                                                      django_capture_on_commit_callbacks):
    maintainer = make_user("mia")
    make_member(maintainer, owner_project, Role.MAINTAINER)
    client = client_for(maintainer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/projects/{owner_project.pk}/quota/", {"quota-quota_storage": "200Gi"})
    assert response.status_code == 302
    owner_project.refresh_from_db()
    assert owner_project.quota_storage == "200Gi"
    run = ProvisioningRun.objects.get(project=owner_project)
    assert run.cause == ProvisioningCause.QUOTA_CHANGED and enqueued["provisioning"] == [run.pk]

    refused = client.post(f"/projects/{owner_project.pk}/quota/", {"quota-quota_cpu": "1.5m"})
    assert refused.status_code == 400
    assert "finer than '1m'" in refused.context["quota_form"].errors["quota_cpu"][0]
    owner_project.refresh_from_db()
    assert owner_project.quota_cpu == "8"


def test_developer_sees_the_quota_but_cannot_change_it(client_for, owner_project):
    developer = make_user("dev")
    make_member(developer, owner_project, Role.DEVELOPER)
    client = client_for(developer)
    page = client.get(f"/projects/{owner_project.pk}/").content.decode()
    assert 'id="quota"' in page and "quota-edit" not in page
    assert client.post(f"/projects/{owner_project.pk}/quota/", {"quota-quota_cpu": "1"}).status_code == 403
    owner_project.refresh_from_db()
    assert owner_project.quota_cpu == "8"


def test_organization_page_shows_its_limits(client_for, user):
    make_organization("acme", owner=user)
    page = client_for(user).get("/organizations/acme/").content.decode()
    assert 'id="quota-limits"' in page and "<code>500Gi</code>" in page
