"""A cluster's service-account token never leaks: not in stored rows (it is encrypted), runs, audit events,
logs or API responses, through registration, provisioning, a refused write and a connection test."""

from __future__ import annotations

import logging

import pytest

from console.models import ProvisioningRun
from console.services.projects import project_provision_request
from tests.console.api.test_api import client_for
from tests.console.test_secrets import every_stored_text
from tests.factories import make_organization, make_project, make_repository, make_user

pytestmark = pytest.mark.django_db


def test_the_cluster_token_appears_nowhere(kube_double, forge_server, executed, admin_actor, caplog,
                                           django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    api = client_for(make_user("ops", staff=True))
    responses = [api.post("/api/v1/clusters/", {"name": "prod", "api_url": kube_double.url, "token": kube_double.token,
                                                "delivery_mode": "direct", "is_default": True}, format="json")]
    cluster_id = responses[0].json()["id"]
    project = make_project(make_organization("acme"), "shop")
    make_repository(project, "infra", is_infra=True, deploy_kind="helm",
                    internal_url="https://git.internal.test/dso/acme/shop/infra.git")
    with django_capture_on_commit_callbacks(execute=True):
        project_provision_request(actor=admin_actor, project=project)
    kube_double.deny("patch", "applications", group="argoproj.io", namespace="argocd")
    project.repositories.update(deploy_revision="v2")
    with django_capture_on_commit_callbacks(execute=True):
        project_provision_request(actor=admin_actor, project=project)
    responses += [api.post(f"/api/v1/clusters/{cluster_id}/test/"), api.get("/api/v1/clusters/"),
                  api.get(f"/api/v1/projects/{project.pk}/provisioning-runs/"),
                  api.patch(f"/api/v1/clusters/{cluster_id}/", {"token": kube_double.token}, format="json")]

    statuses = list(ProvisioningRun.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["succeeded", "failed"]
    token = kube_double.token
    assert all(r.status_code < 300 for r in responses)
    assert token not in every_stored_text()
    assert token not in caplog.text
    for response in responses:
        assert token not in response.content.decode()
