"""Editing and removing a repository from the portal: one service each, confirmations, write-only token."""

from __future__ import annotations

import pytest

from console.models import AuditEvent, ProvisioningRun, Repository, Role, RunStatus, SyncRun
from tests.factories import make_member, make_repository, make_user

pytestmark = pytest.mark.django_db

WRONG, RIGHT = "glpat-wrong-0123456789", "glpat-right-9876543210"


def edit(client, repository, **fields):
    data = {"external_url": repository.external_url, "deploy_path": repository.deploy_path,
            "deploy_revision": repository.deploy_revision, "username": repository.username, **fields}
    if repository.is_private and "is_private" not in fields:
        data["is_private"] = "on"
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(f"/repositories/{repository.pk}/edit/", {f"repo-{k}": v for k, v in data.items()})


@pytest.fixture
def failed_private(owner_project):
    """Registered with a wrong token: its initial sync failed."""
    repository = make_repository(owner_project, "api", is_private=True, username="ci", token=WRONG,
                                 internal_path="dso/acme/shop/api")
    SyncRun.objects.create(repository=repository, trigger="initial", status=RunStatus.FAILED,
                           error_code="authentication_failed", error_message="the token was refused")
    return repository


def test_fixing_the_token_saves_it_and_queues_a_sync(client_for, user, failed_private, enqueued,
                                                     django_capture_on_commit_callbacks):
    client = client_for(user)
    page = client.get(f"/repositories/{failed_private.pk}/edit/")
    assert page.status_code == 200
    assert WRONG not in page.content.decode()  # write-only, even on its own edit page
    assert 'value="https://git.example.com/team/app.git"' in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = edit(client, failed_private, token=RIGHT)

    assert response.status_code == 302 and response["Location"] == f"/repositories/{failed_private.pk}/"
    failed_private.refresh_from_db()
    assert failed_private.token == RIGHT
    retry = SyncRun.objects.get(repository=failed_private, status=RunStatus.QUEUED)
    assert retry.trigger == "portal" and enqueued["sync"] == [retry.pk]
    event = AuditEvent.objects.get(action="repository.update")
    assert event.after["changed"] == ["token"]
    assert RIGHT not in str(event.before) + str(event.after) and WRONG not in str(event.before)
    assert not ProvisioningRun.objects.exists()  # credentials do not change the manifests


def test_an_empty_token_keeps_the_stored_one_and_nothing_changes(client_for, user, failed_private, enqueued):
    response = edit(client_for(user), failed_private, token="")

    assert response.status_code == 302
    failed_private.refresh_from_db()
    assert failed_private.token == WRONG
    assert not AuditEvent.objects.filter(action="repository.update").exists()
    assert enqueued["sync"] == []


def test_a_new_host_needs_the_token_again(client_for, user, failed_private):
    response = edit(client_for(user), failed_private, external_url="https://evil.example.net/team/app.git")

    assert response.status_code == 400
    assert "never sent to a new host" in response.content.decode()
    failed_private.refresh_from_db()
    assert failed_private.external_url == "https://git.example.com/team/app.git"


def test_infra_settings_are_provisioned_with_their_cause(client_for, user, owner_project, enqueued):
    repository = make_repository(owner_project, "deploy")

    edit(client_for(user), repository, is_infra="on", deploy_kind="kustomize", deploy_path="overlays/prod")

    repository.refresh_from_db()
    assert (repository.is_infra, repository.deploy_kind, repository.deploy_path) == (True, "kustomize",
                                                                                     "overlays/prod")
    run = ProvisioningRun.objects.get(project=owner_project)
    assert run.cause == "repository_updated" and run.trigger == "portal"
    page = client_for(user).get(f"/projects/{owner_project.pk}/").content.decode()
    assert "repository updated (deploy)" in page


def test_developers_cannot_edit_or_remove(client_for, developer_project):
    dave, project = developer_project
    repository = make_repository(project, "api")
    client = client_for(dave)

    page = client.get(f"/repositories/{repository.pk}/").content.decode()
    assert f"/repositories/{repository.pk}/edit/" not in page and f"/repositories/{repository.pk}/remove/" not in page
    assert client.get(f"/repositories/{repository.pk}/edit/").status_code == 403
    assert client.post(f"/repositories/{repository.pk}/remove/", {"confirm_name": "api"}).status_code == 403
    assert Repository.objects.filter(pk=repository.pk).exists()


def test_removal_asks_for_the_name_then_removes_and_provisions(client_for, user, failed_private, enqueued,
                                                               django_capture_on_commit_callbacks):
    client = client_for(user)
    page = client.get(f"/repositories/{failed_private.pk}/")
    assert f"/repositories/{failed_private.pk}/remove/" in page.content.decode()
    confirm = client.get(f"/repositories/{failed_private.pk}/remove/").content.decode()
    assert "archived, not deleted" in confirm and "api-removed-" in confirm

    refused = client.post(f"/repositories/{failed_private.pk}/remove/", {"confirm_name": "ap"})
    assert refused.status_code == 400 and "type api to confirm" in refused.content.decode()
    assert Repository.objects.filter(pk=failed_private.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/repositories/{failed_private.pk}/remove/", {"confirm_name": "api"}, follow=True)

    assert not Repository.objects.filter(pk=failed_private.pk).exists()
    run = ProvisioningRun.objects.get(project=failed_private.project)
    assert run.cause == "repository_removed"
    assert run.causes == [{"cause": "repository_removed", "subject": "api", "repository_id": failed_private.pk,
                           "internal_path": "dso/acme/shop/api"}]
    assert enqueued["provisioning"] == [run.pk]
    content = response.content.decode()
    assert f"Repository api removed; provisioning #{run.pk}" in content
    assert "repository removed (api)" in content
    event = AuditEvent.objects.get(action="repository.remove")
    assert event.before["internal_path"] == "dso/acme/shop/api" and WRONG not in str(event.before)


def test_removal_waits_for_a_running_sync(client_for, user, owner_project):
    repository = make_repository(owner_project, "api")
    SyncRun.objects.create(repository=repository, trigger="api", status=RunStatus.RUNNING)

    response = client_for(user).post(f"/repositories/{repository.pk}/remove/", {"confirm_name": "api"})

    assert response.status_code == 400
    assert "remove the repository when it has finished" in response.content.decode()
    assert Repository.objects.filter(pk=repository.pk).exists()
    assert not ProvisioningRun.objects.exists()


def test_a_maintainer_of_the_project_may_remove(client_for, owner_project):
    maria = make_user("maria")
    make_member(maria, owner_project, Role.MAINTAINER)
    repository = make_repository(owner_project, "api")

    client_for(maria).post(f"/repositories/{repository.pk}/remove/", {"confirm_name": "api"})

    assert not Repository.objects.filter(pk=repository.pk).exists()
