"""Editing and removing a repository through the API: the same services as the portal and the admin."""

from __future__ import annotations

import pytest

from console.models import AuditEvent, ProvisioningRun, Repository, Role, RunStatus, SyncRun
from tests.console.api.test_api import client_for, no_broker  # noqa: F401 - fixture
from tests.factories import make_member, make_organization, make_project, make_repository, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def maintainer_project():
    user = make_user("mia")
    project = make_project(make_organization("acme"), "shop")
    make_member(user, project, Role.MAINTAINER)
    return user, project


def test_patching_the_token_queues_a_sync_and_never_returns_it(maintainer_project):
    user, project = maintainer_project
    repository = make_repository(project, "api", is_private=True, token="wrong-token-1")

    response = client_for(user).patch(f"/api/v1/repositories/{repository.pk}/", {"token": "right-token-2"},
                                      format="json")

    assert response.status_code == 200, response.content
    assert response.json()["token_is_set"] is True and "right-token-2" not in response.content.decode()
    assert SyncRun.objects.get(repository=repository).trigger == "api"
    repository.refresh_from_db()
    assert repository.token == "right-token-2"


def test_delete_answers_202_with_the_provisioning_run_labelled_by_cause(maintainer_project):
    user, project = maintainer_project
    repository = make_repository(project, "api", internal_path="dso/acme/shop/api")
    api = client_for(user)

    response = api.delete(f"/api/v1/repositories/{repository.pk}/")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["cause"] == "repository_removed" and body["cause_summary"] == "repository removed (api)"
    assert body["causes"] == [{"cause": "repository_removed", "subject": "api"}]
    assert not Repository.objects.filter(pk=repository.pk).exists()
    assert api.get(f"/api/v1/repositories/{repository.pk}/").status_code == 404
    listed = api.get(f"/api/v1/projects/{project.pk}/provisioning-runs/").json()["results"]
    assert [run["cause_summary"] for run in listed] == ["repository removed (api)"]
    assert AuditEvent.objects.get(action="repository.remove").interface == "api"


def test_delete_is_refused_to_developers_and_while_a_sync_runs(maintainer_project):
    user, project = maintainer_project
    repository = make_repository(project, "api")
    dev = make_user("dev")
    make_member(dev, project, Role.DEVELOPER)

    assert client_for(dev).delete(f"/api/v1/repositories/{repository.pk}/").status_code == 403
    SyncRun.objects.create(repository=repository, trigger="api", status=RunStatus.RUNNING)
    busy = client_for(user).delete(f"/api/v1/repositories/{repository.pk}/")
    assert busy.status_code == 409 and busy.json()["code"] == "repository_busy"
    assert Repository.objects.filter(pk=repository.pk).exists() and not ProvisioningRun.objects.exists()


def test_manual_reprovision_is_labelled_manual(maintainer_project):
    user, project = maintainer_project

    body = client_for(user).post(f"/api/v1/projects/{project.pk}/provision/").json()

    assert (body["trigger"], body["cause"], body["cause_summary"]) == ("api", "manual", "manual re-provision")
