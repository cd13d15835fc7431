"""GET projects/{id}/deployments/ and drift/, POST refresh/: membership-filtered, paginated, constant queries;
filled by a real read-back pass against the Kubernetes API double."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from console.models import AuditEvent, Role
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
from tests.factories import make_member, make_repository, make_user

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def queued_refreshes(monkeypatch) -> list:
    sent = []
    monkeypatch.setattr(readback, "_enqueue_refresh", lambda project_id, trigger: sent.append((project_id, trigger)))
    return sent


def test_deployments_show_argocd_state_link_and_rollouts(kube_double, tmp_path):
    project = make_delivered_project()
    repository = project.repositories.get()
    apply_project(kube_double, project)
    (commit, _) = infra_history(repository, tmp_path)
    bump = pushed_bump(repository, commit)
    kube_double.patch_status(app_ref(project), argocd_status(sync="OutOfSync", health="Degraded", revision=commit,
                                                             health_message="Deployment shop: 0/2 ready"))
    readback_pass(targets=[target_for(kube_double, project)])
    member = make_user()
    make_member(member, project, Role.READER)

    response = client_for(member).get(f"/api/v1/projects/{project.pk}/deployments/")

    assert response.status_code == 200, response.content
    [item] = response.json()["results"]
    assert item["repository_name"] == "infra" and item["sync_status"] == "OutOfSync"
    assert item["health_status"] == "Degraded" and item["synced_revision"] == commit
    assert item["argocd_link"] == f"{ARGOCD_URL}/applications/argocd/{app_ref(project).name}"
    assert item["rollouts"][0]["bump"] == bump.pk and item["rollouts"][0]["status"] == "failed"
    assert item["rollouts"][0]["message"] == "Deployment shop: 0/2 ready"
    assert client_for(make_user()).get(f"/api/v1/projects/{project.pk}/deployments/").status_code == 404


def test_deployments_list_has_a_constant_query_count(kube_double, tmp_path):
    small = make_delivered_project("blog")
    large = make_delivered_project("shop", small.organization)
    for name in ("edge", "batch", "jobs"):
        make_repository(large, name, is_infra=True, deploy_kind="kustomize",
                        internal_url=f"http://forge.example.test/dso/acme/shop/{name}.git")
    for project in (small, large):
        apply_project(kube_double, project)
        for repository in project.repositories.all():
            (commit,) = infra_history(repository, tmp_path, count=1)
            pushed_bump(repository, commit)
    readback_pass(targets=[target_for(kube_double, small, large)])
    member = make_user()
    for project in (small, large):
        make_member(member, project, Role.READER)
    client = client_for(member)

    with CaptureQueriesContext(connection) as one:
        assert client.get(f"/api/v1/projects/{small.pk}/deployments/").json()["count"] == 1
    with CaptureQueriesContext(connection) as four:
        body = client.get(f"/api/v1/projects/{large.pk}/deployments/").json()
    assert body["count"] == 4 and all(item["rollouts"] for item in body["results"])
    assert len(four) == len(one)


def test_drift_lists_open_records_and_refuses_an_unknown_state(kube_double, django_assert_max_num_queries):
    project = make_delivered_project()
    apply_project(kube_double, project)
    kube_double.remove_object(ObjectRef("v1", "LimitRange", project.namespace, "project-limits"))
    readback_pass(targets=[target_for(kube_double, project)])
    member = make_user()
    make_member(member, project, Role.READER)
    client = client_for(member)

    with django_assert_max_num_queries(6):
        response = client.get(f"/api/v1/projects/{project.pk}/drift/")
    [record] = response.json()["results"]
    assert (record["kind"], record["name"], record["reason"], record["open"]) == (
        "LimitRange", "project-limits", "missing", True)
    assert client.get(f"/api/v1/projects/{project.pk}/drift/?state=resolved").json()["count"] == 0
    bad = client.get(f"/api/v1/projects/{project.pk}/drift/?state=later")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_state"
    assert client_for(make_user()).get(f"/api/v1/projects/{project.pk}/drift/").status_code == 404


def test_refresh_answers_202_for_developers_and_403_for_readers(queued_refreshes,
                                                                django_capture_on_commit_callbacks):
    project = make_delivered_project()
    developer, reader = make_user(), make_user()
    make_member(developer, project, Role.DEVELOPER)
    make_member(reader, project, Role.READER)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(developer).post(f"/api/v1/projects/{project.pk}/refresh/")
    assert response.status_code == 202 and response.json()["code"] == "refresh_queued"
    assert queued_refreshes == [(project.pk, "api")]
    assert AuditEvent.objects.filter(action="project.refresh").count() == 1

    refused = client_for(reader).post(f"/api/v1/projects/{project.pk}/refresh/")
    assert refused.status_code == 403 and "developer" in refused.json()["detail"]
    assert queued_refreshes == [(project.pk, "api")]
