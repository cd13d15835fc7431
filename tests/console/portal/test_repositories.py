"""Registering repositories: errors next to fields, credentials write-only, nothing half-created."""

from __future__ import annotations

import secrets

import pytest

from console.models import AuditEvent, Repository, SyncRun
from tests.factories import make_repository

pytestmark = pytest.mark.django_db


def register(client, project, **fields):
    data = {"name": "api", "external_url": "https://git.example.com/team/api.git", "deploy_path": ".",
            "deploy_revision": "HEAD", **fields}
    return client.post(f"/projects/{project.pk}/repositories/", {f"repo-{k}": v for k, v in data.items()})


@pytest.fixture
def secret_token() -> str:
    return "glpat-" + secrets.token_hex(12)


def test_register_public_repository_queues_initial_sync(client_for, user, owner_project):
    response = register(client_for(user), owner_project)

    repository = Repository.objects.get(project=owner_project, name="api")
    run = SyncRun.objects.get(repository=repository)
    assert response.status_code == 302 and response["Location"] == f"/repositories/{repository.pk}/"
    assert run.trigger == "initial"
    assert repository.internal_url
    page = client_for(user).get(f"/projects/{owner_project.pk}/").content.decode()
    assert repository.internal_url in page and "https://git.example.com/team/api.git" in page


def test_register_infra_repository_with_helm_value_files(client_for, user, owner_project):
    register(client_for(user), owner_project, is_infra="on", deploy_kind="helm", deploy_path="chart",
             helm_value_files="values.yaml, values-prod.yaml")

    repository = Repository.objects.get(name="api")
    assert (repository.deploy_kind, repository.deploy_path) == ("helm", "chart")
    assert repository.helm_value_files == ["values.yaml", "values-prod.yaml"]


def test_credentials_in_the_url_are_refused_and_not_echoed(client_for, user, owner_project, secret_token):
    response = register(client_for(user), owner_project,
                        external_url=f"https://bob:{secret_token}@git.example.com/team/api.git")

    assert response.status_code == 200
    errors = response.context["repository_form"].errors
    assert "must not contain credentials" in errors["external_url"][0]
    content = response.content.decode()
    assert "must not contain credentials" in content
    assert secret_token not in content
    assert 'value="https://git.example.com/team/api.git"' in content
    assert not Repository.objects.exists() and not SyncRun.objects.exists()
    assert not AuditEvent.objects.filter(action="repository.register").exists()


def test_model_rule_errors_are_shown_next_to_their_fields(client_for, user, owner_project):
    response = register(client_for(user), owner_project, deploy_kind="helm", helm_value_files="../x.yaml")

    errors = response.context["repository_form"].errors
    assert "only allowed on an infra repository" in errors["deploy_kind"][0]
    assert "helm_value_files" in errors
    assert not Repository.objects.exists()


def test_token_never_appears_in_any_rendered_page(client_for, user, owner_project, secret_token):
    client = client_for(user)
    # A failed attempt first: the token must not be rendered back into the form either.
    failed = register(client, owner_project, name="Bad_Name", is_private="on", username="bob",
                      token=secret_token)
    created = register(client, owner_project, is_private="on", username="bob", token=secret_token)
    repository = Repository.objects.get(name="api")
    run = repository.sync_runs.get()

    pages = [failed, created] + [client.get(url) for url in (
        "/", f"/projects/{owner_project.pk}/", f"/repositories/{repository.pk}/",
        f"/syncs/{run.pk}/partial/", f"/syncs/{run.pk}/partial/?variant=summary",
        f"/projects/{owner_project.pk}/manifests/", f"/projects/{owner_project.pk}/manifests.yaml",
        f"/organizations/{owner_project.organization.slug}/",
    )]

    assert failed.status_code == 200 and created.status_code == 302
    assert repository.token == secret_token and repository.is_private
    for page in pages:
        assert secret_token not in page.content.decode(), page.wsgi_request.path
    assert "token set" in pages[4].content.decode()
    assert all(secret_token not in str(event.after) for event in AuditEvent.objects.all())


def test_duplicate_repository_name_is_shown_and_nothing_is_created(client_for, user, owner_project):
    make_repository(owner_project, "api")

    response = register(client_for(user), owner_project)

    assert "already exists" in response.context["repository_form"].errors["name"][0]
    assert Repository.objects.count() == 1 and not SyncRun.objects.exists()


def test_developer_cannot_register(client_for, developer_project):
    dave, project = developer_project

    response = register(client_for(dave), project)

    assert response.status_code == 403
    assert not Repository.objects.exists()


@pytest.mark.parametrize("fields, field, message", [
    ({"deploy_revision": "my branch"}, "deploy_revision", "cannot contain spaces"),
    ({"helm_value_files": "values.yaml, ../secrets.yaml"}, "helm_value_files", "no '..'"),
    ({"deploy_path": "/etc"}, "deploy_path", "no leading '/'"),
])
def test_values_provisioning_could_not_use_are_refused_next_to_their_field(client_for, user, owner_project,
                                                                            fields, field, message):
    response = register(client_for(user), owner_project, is_infra="on", deploy_kind="helm", **fields)

    assert response.status_code == 200
    assert message in response.context["repository_form"].errors[field][0]
    assert not Repository.objects.exists() and not SyncRun.objects.exists()
