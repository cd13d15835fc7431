"""A project whose manifests' inputs did not change since they were delivered is neither rendered nor
delivered again; a manual re-provision always is, and any change to the inputs is."""

from __future__ import annotations

import pytest

from console.models import Project, ProvisioningCause, RunStatus, Trigger
from console.services import provisioning as provisioning_service
from console.services.organizations import organization_create
from console.services.projects import project_create, project_provision_request
from tests.console.services.test_flow import actor, executed, owner, platform_files  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    seen: list[str] = []
    render_files = provisioning_service.manifests.render_files

    def counting(spec):
        seen.append(spec.project_slug)
        return render_files(spec)

    monkeypatch.setattr(provisioning_service.manifests, "render_files", counting)
    return seen


def provision(actor, project, django_capture_on_commit_callbacks, cause):
    with django_capture_on_commit_callbacks(execute=True):
        run = project_provision_request(actor=actor, project=project, trigger=Trigger.API, cause=cause).run
    run.refresh_from_db()
    return run


@pytest.fixture
def project(forge_server, executed, actor, django_capture_on_commit_callbacks, renders):  # noqa: F811
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    project.refresh_from_db()
    assert project.manifests_fingerprint and renders == ["shop"]
    return project


def test_unchanged_inputs_skip_rendering_and_delivery(project, actor, renders, settings,
                                                      django_capture_on_commit_callbacks):  # noqa: F811
    run = provision(actor, project, django_capture_on_commit_callbacks, ProvisioningCause.REPOSITORY_UPDATED)

    assert run.status == RunStatus.NO_CHANGE, run.error_message
    assert run.result["manifests_unchanged"] is True
    assert renders == ["shop"]
    assert "name: acme-shop" in platform_files(settings, "projects/acme/shop")["namespace.yaml"]


def test_a_manual_reprovision_renders_and_delivers_again(project, actor, renders, settings,
                                                         django_capture_on_commit_callbacks):  # noqa: F811
    from console.integrations import get_delivery

    get_delivery().deliver("projects/acme/shop", {"namespace.yaml": "edited by hand\n"}, message="drift")

    run = provision(actor, project, django_capture_on_commit_callbacks, ProvisioningCause.MANUAL)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert renders == ["shop", "shop"]
    assert "name: acme-shop" in platform_files(settings, "projects/acme/shop")["namespace.yaml"]


def test_changed_inputs_render_and_deliver(project, actor, renders, settings,
                                           django_capture_on_commit_callbacks):  # noqa: F811
    before = project.manifests_fingerprint
    Project.objects.filter(pk=project.pk).update(name="Web Shop")

    run = provision(actor, project, django_capture_on_commit_callbacks, ProvisioningCause.REPOSITORY_UPDATED)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert renders == ["shop", "shop"]
    assert "Web Shop" in platform_files(settings, "projects/acme/shop")["namespace.yaml"]
    project.refresh_from_db()
    assert project.manifests_fingerprint != before


def test_the_renderer_counts_in_the_fingerprint(monkeypatch):
    from provisioning import render_cache
    from tests.provisioning.test_manifests import simple_spec

    first = render_cache.spec_fingerprint(simple_spec(), directory="d")
    monkeypatch.setattr(render_cache, "renderer_fingerprint", lambda: "another renderer")

    assert render_cache.spec_fingerprint(simple_spec(), directory="d") != first
    assert render_cache.spec_fingerprint(simple_spec(), directory="d") != render_cache.spec_fingerprint(
        simple_spec(), directory="e")
