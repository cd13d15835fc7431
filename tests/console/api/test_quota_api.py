"""Project quotas through the API: chosen at creation, edited by maintainers, always within the organization's
limits, refused with a clear 4xx JSON body, rendered into the ResourceQuota."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from console.models import Project, ProvisioningCause, ProvisioningRun, Role
from tests.console.api.test_api import client_for
from tests.factories import make_member, make_organization, make_project, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    stand_in(monkeypatch, "provisioning", lambda run_id: None)


def _quota_of(api, project_id: int) -> dict:
    response = api.get(f"/api/v1/projects/{project_id}/manifests/")
    assert response.status_code == 200, response.content
    objects = list(YAML(typ="safe").load_all(response.content.decode()))
    return next(o for o in objects if o["kind"] == "ResourceQuota")["spec"]["hard"]


def test_create_with_a_quota_stores_canonical_amounts_and_renders_them():
    owner = make_user()
    organization = make_organization(owner=owner)
    api = client_for(owner)
    response = api.post("/api/v1/projects/", {
        "organization": organization.slug, "slug": "shop",
        "quota": {"cpu": "1500m", "memory": "1.5Gi", "storage": "100Gi", "pods": 30, "services": 5},
    }, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["quota"] == {"cpu": "1500m", "memory": "1536Mi", "storage": "100Gi", "pods": 30,
                                        "services": 5}  # fmt: skip
    hard = _quota_of(api, response.json()["id"])
    assert hard == {"limits.cpu": "1500m", "limits.memory": "1536Mi", "persistentvolumeclaims": "10", "pods": "30",
                    "requests.cpu": "1500m", "requests.memory": "1536Mi", "requests.storage": "100Gi",
                    "services": "5"}  # fmt: skip


def test_create_without_a_quota_gets_the_platform_defaults_within_the_organization_limits(settings):
    owner = make_user()
    organization = make_organization(owner=owner)
    organization.quota_limit_cpu, organization.quota_limit_pods = "2", 10  # below the defaults (8, 50)
    organization.save()
    response = client_for(owner).post("/api/v1/projects/", {"organization": organization.slug, "slug": "shop"},
                                      format="json")
    assert response.status_code == 202, response.content
    assert response.json()["quota"] == {"cpu": "2", "memory": settings.QUOTA_DEFAULTS["memory"],
                                        "storage": settings.QUOTA_DEFAULTS["storage"], "pods": 10,
                                        "services": settings.QUOTA_DEFAULTS["services"]}  # fmt: skip


def test_a_quota_over_the_organization_limit_is_refused_with_the_limit():
    owner = make_user()
    organization = make_organization(owner=owner)
    response = client_for(owner).post("/api/v1/projects/", {
        "organization": organization.slug, "slug": "shop", "quota": {"cpu": "33", "pods": 201},
    }, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "quota_exceeded"
    assert body["detail"]["quota_cpu"] == ["CPU 33 exceeds the organization's limit of 32"]
    assert body["detail"]["quota_pods"] == ["Pods 201 exceeds the organization's limit of 200"]
    assert not Project.objects.filter(slug="shop").exists()


@pytest.mark.parametrize("quota,field,words", [
    ({"cpu": "lots"}, "quota_cpu", "not a Kubernetes quantity"),
    ({"memory": "16 Gi"}, "quota_memory", "not a Kubernetes quantity"),
    ({"cpu": "0.0001"}, "quota_cpu", "finer than '1m'"),
    ({"storage": "0"}, "quota_storage", "greater than zero"),
    ({"memory": "1.5"}, "quota_memory", "finer than '1'"),
    ({"pods": 0}, "quota_pods", "greater than or equal to 1"),
])  # fmt: skip
def test_malformed_quantities_are_refused_by_the_model(quota, field, words):
    owner = make_user()
    organization = make_organization(owner=owner)
    response = client_for(owner).post("/api/v1/projects/", {
        "organization": organization.slug, "slug": "shop", "quota": quota,
    }, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert words in response.json()["detail"][field][0]


def test_a_maintainer_changes_the_quota_within_the_limits_and_the_project_is_reprovisioned():
    project = make_project(status=Project.Status.READY)
    maintainer, developer = make_user(), make_user()
    make_member(maintainer, project, Role.MAINTAINER)
    make_member(developer, project, Role.DEVELOPER)

    refused = client_for(developer).patch(f"/api/v1/projects/{project.pk}/", {"quota": {"cpu": "2"}}, format="json")
    assert refused.status_code == 403, refused.content

    api = client_for(maintainer)
    over = api.patch(f"/api/v1/projects/{project.pk}/", {"quota": {"memory": "65Gi"}}, format="json")
    assert over.status_code == 400 and over.json()["code"] == "quota_exceeded", over.content
    assert not ProvisioningRun.objects.filter(project=project).exists()

    changed = api.patch(f"/api/v1/projects/{project.pk}/", {"quota": {"cpu": "2000m", "services": 3}}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["quota"]["cpu"] == "2" and changed.json()["quota"]["services"] == 3
    run = ProvisioningRun.objects.get(project=project)
    assert run.cause == ProvisioningCause.QUOTA_CHANGED
    assert _quota_of(api, project.pk)["limits.cpu"] == "2"

    # The same amounts again (spelled differently) change nothing and queue nothing more.
    again = api.patch(f"/api/v1/projects/{project.pk}/", {"quota": {"cpu": "2"}}, format="json")
    assert again.status_code == 200
    assert ProvisioningRun.objects.filter(project=project).count() == 1


def test_organization_shows_its_limits():
    owner = make_user()
    organization = make_organization(owner=owner)
    body = client_for(owner).get(f"/api/v1/organizations/{organization.pk}/").json()
    assert body["quota_limits"] == {"cpu": "32", "memory": "64Gi", "storage": "500Gi", "pods": 200, "services": 100}
