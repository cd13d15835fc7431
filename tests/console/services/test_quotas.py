"""Quota rules in the services and models: limits are the platform's, checked once, for every interface."""

from __future__ import annotations

import pytest

from console.models import AuditEvent, Organization, Project
from console.services.actors import Actor
from console.services.errors import DomainError, PermissionDenied
from console.services.organizations import organization_quota_limits_set
from console.services.projects import project_create, project_update
from tests.factories import make_organization, make_project, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    stand_in(monkeypatch, "provisioning", lambda run_id: None)


def test_only_platform_admins_set_organization_limits():
    owner = make_user()
    organization = make_organization(owner=owner)
    with pytest.raises(PermissionDenied):
        organization_quota_limits_set(actor=Actor.for_user(owner, "api"), organization=organization, limits={"cpu": "64"})
    admin = make_user(staff=True)
    organization_quota_limits_set(actor=Actor.for_user(admin, "api"), organization=organization,
                                  limits={"cpu": "64000m", "pods": 500})  # fmt: skip
    organization.refresh_from_db()
    assert (organization.quota_limit_cpu, organization.quota_limit_pods) == ("64", 500)
    event = AuditEvent.objects.get(action="organization.quota_limits")
    assert event.before["cpu"] == "32" and event.after["cpu"] == "64"


def test_a_limit_below_a_project_quota_is_refused_naming_the_project():
    project = make_project(quota_memory="32Gi")
    with pytest.raises(DomainError) as refused:
        organization_quota_limits_set(actor=Actor.system(), organization=project.organization,
                                      limits={"memory": "16Gi"})  # fmt: skip
    assert refused.value.code == "invalid"
    assert f"project {project.slug} already has more" in refused.value.message["quota_limit_memory"][0]
    assert Organization.objects.get(pk=project.organization_id).quota_limit_memory == "64Gi"
    # An archived project no longer holds its organization's limits up.
    Project.objects.filter(pk=project.pk).update(status=Project.Status.ARCHIVED)
    organization_quota_limits_set(actor=Actor.system(), organization=project.organization, limits={"memory": "16Gi"})


def test_malformed_limits_and_unknown_resources_are_refused():
    organization = make_organization()
    with pytest.raises(DomainError) as malformed:
        organization_quota_limits_set(actor=Actor.system(), organization=organization, limits={"storage": "1 Ti"})
    assert "not a Kubernetes quantity" in malformed.value.message["quota_limit_storage"][0]
    with pytest.raises(DomainError, match="unknown quota resource"):
        organization_quota_limits_set(actor=Actor.system(), organization=organization, limits={"gpu": "1"})
    project = make_project(organization)
    with pytest.raises(DomainError, match="unknown quota resource 'gpu'"):
        project_update(actor=Actor.system(), project=project, quota={"gpu": "1"})


def test_quota_changes_on_an_archived_project_are_refused():
    project = make_project(status=Project.Status.ARCHIVED)
    with pytest.raises(DomainError, match="archived"):
        project_update(actor=Actor.system(), project=project, quota={"cpu": "2"})
    project.refresh_from_db()
    assert project.quota_cpu == "8"


def test_a_new_project_in_an_organization_with_small_limits_gets_the_limits():
    owner = make_user()
    organization = make_organization(owner=owner)
    organization_quota_limits_set(actor=Actor.system(), organization=organization,
                                  limits={"cpu": "1", "memory": "1Gi", "storage": "1Gi", "pods": 1, "services": 1})
    project, _ = project_create(actor=Actor.for_user(owner, "api"), organization=organization, slug="tiny")
    assert project.quota == {"cpu": "1", "memory": "1Gi", "storage": "1Gi", "pods": 1, "services": 1}
