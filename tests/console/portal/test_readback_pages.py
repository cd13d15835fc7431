"""The project and repository pages show what runs: Argo CD's state per infra repository with its deep link,
the bumps followed to the cluster, quota usage and drift; the refresh button queues a read-back."""

from __future__ import annotations

import pytest
from django.test import Client

from console.models import Role
from console.services import readback
from console.services.readback import readback_pass
from provisioning.cluster import ObjectRef
from tests.console.services.readback_support import (
    ARGOCD_URL,
    app_ref,
    apply_project,
    argocd_status,
    infra_history,
    make_delivered_project,
    pushed_bump,
    target_for,
)
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db
IMAGE = "registry.example.test/acme/shop"


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_status_change_to_out_of_sync_degraded_shows_on_both_pages(kube_double, tmp_path):
    project = make_delivered_project()
    repository = project.repositories.get()
    apply_project(kube_double, project)
    first, second = infra_history(repository, tmp_path)
    pushed_bump(repository, first, tag="1.1")
    kube_double.patch_status(app_ref(project), argocd_status(revision=first, images=[f"{IMAGE}:1.1"]))
    kube_double.patch_status(ObjectRef("v1", "ResourceQuota", project.namespace, "project-quota"),
                             {"hard": {"pods": "50"}, "used": {"pods": "7"}})
    readback_pass(targets=[target_for(kube_double, project)])
    member = make_user()
    make_member(member, project, Role.DEVELOPER)
    browser = browser_for(member)

    page = browser.get(f"/projects/{project.pk}/").content.decode()
    assert "Synced" in page and "Healthy" in page
    assert f'href="{ARGOCD_URL}/applications/argocd/{app_ref(project).name}"' in page
    assert f"{IMAGE}:1.1" in page
    assert 'id="quota-usage"' in page and "<td>7</td>" in page
    assert "No drift" in page
    assert 'badge badge-succeeded">Deployed' in browser.get(f"/repositories/{repository.pk}/").content.decode()

    pushed_bump(repository, second, tag="1.2")
    kube_double.patch_status(app_ref(project), argocd_status(
        sync="OutOfSync", health="Degraded", revision=second, phase="Failed", images=[f"{IMAGE}:1.1"],
        message="ComparisonError: rpc error: manifest generation failed",
        resources=[{"group": "apps", "version": "v1", "kind": "Deployment", "namespace": project.namespace,
                    "name": "shop", "status": "OutOfSync"}]))
    readback_pass(targets=[target_for(kube_double, project)])

    page = browser.get(f"/projects/{project.pk}/").content.decode()
    assert "OutOfSync" in page and "Degraded" in page
    assert "manifest generation failed" in page
    assert "Argo CD reports OutOfSync" in page  # the drift section
    repository_page = browser.get(f"/repositories/{repository.pk}/").content.decode()
    assert 'badge badge-failed">Failed' in repository_page
    assert "manifest generation failed" in repository_page


def test_refresh_button_queues_a_read_back_for_developers_only(monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(readback, "_enqueue_refresh", lambda project_id, trigger: sent.append((project_id, trigger)))
    project = make_delivered_project()
    developer, reader = make_user(), make_user()
    make_member(developer, project, Role.DEVELOPER)
    make_member(reader, project, Role.READER)

    assert 'action="/projects/%d/refresh/"' % project.pk in browser_for(developer).get(
        f"/projects/{project.pk}/").content.decode()
    assert 'action="/projects/%d/refresh/"' % project.pk not in browser_for(reader).get(
        f"/projects/{project.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_for(developer).post(f"/projects/{project.pk}/refresh/")
    assert response.status_code == 302 and sent == [(project.pk, "portal")]
    assert browser_for(reader).post(f"/projects/{project.pk}/refresh/").status_code == 403
    assert sent == [(project.pk, "portal")]
