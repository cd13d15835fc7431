"""A repository token never leaks: not in stored runs, audit events, logs, API responses or the forge."""

from __future__ import annotations

import logging

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from console.models import SyncRun
from console.services.actors import Actor
from console.services.organizations import organization_create
from console.services.projects import project_create
from console.services.repositories import repository_register
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.factories import make_user
from tests.support.gitrepos import grep_tree
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


def every_stored_text() -> str:
    """Every row of every console table, as the database returns it (encrypted fields stay encrypted)."""
    from django.db import connection

    chunks = []
    with connection.cursor() as cursor:
        for model in apps.get_app_config("console").get_models():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_the_token_appears_nowhere(forge_server, private_external_forge, executed, settings, caplog,  # noqa: F811
                                   django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    user = make_user("alice")
    actor = Actor.for_user(user, "api")
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    private_external_forge.create("secret-app")
    secret = private_external_forge.token
    wrong = "wrong-" + secret[::-1]
    with django_capture_on_commit_callbacks(execute=True):
        good = repository_register(actor=actor, project=project, name="good", is_private=True, username="ci",
                                   token=secret, external_url=private_external_forge.url("secret-app"))
        bad = repository_register(actor=actor, project=project, name="bad", is_private=True, username="ci",
                                  token=wrong, external_url=private_external_forge.url("secret-app"))
    assert SyncRun.objects.get(repository=good).status == "succeeded"
    assert SyncRun.objects.get(repository=bad).status == "failed"

    api = APIClient()
    api.force_authenticate(user)
    responses = [
        api.get(f"/api/v1/repositories/{good.pk}/").content,
        api.get(f"/api/v1/repositories/{bad.pk}/").content,
        api.get(f"/api/v1/projects/{project.pk}/repositories/").content,
        api.get(f"/api/v1/repositories/{bad.pk}/syncs/").content,
        api.get("/api/v1/syncs/").content,
        api.get(f"/api/v1/projects/{project.pk}/manifests/").content,
    ]
    for value in (secret, wrong):
        assert value not in every_stored_text()
        assert value not in caplog.text
        assert all(value.encode() not in body for body in responses)
        assert grep_tree(settings.DATA_DIR, value) == []


def test_no_secret_the_console_holds_or_mints_is_stored_logged_or_shown_again(settings, caplog, monkeypatch):
    """Repository token, Argo CD deploy token, CI token, webhook secret and API token: each appears only in
    the one answer that hands it out, never in a table (encrypted or hashed there), an audit event, a log
    line, a later API response or a file. Admin edits are included: their audit snapshots once copied the
    deploy token because only a field named `token` was left out."""
    import json

    from django.test import Client

    from console.models import AuditEvent, Project
    from tests.factories import make_member, make_project, make_repository

    stand_in(monkeypatch, "sync", lambda run_id: None)
    stand_in(monkeypatch, "provisioning", lambda run_id: None)
    caplog.set_level(logging.DEBUG)
    root = make_user("root", staff=True)
    root.is_superuser = True
    root.save()
    maintainer = make_user("maya")
    project = make_project()
    make_member(maintainer, project, "maintainer")
    deploy_token = "argocd-deploy-secret-7f3a"
    project.argocd_username, project.argocd_token = "argocd", deploy_token
    project.save()
    repository_token = "repository-secret-91c2"
    repository = make_repository(project, "app", external_url="https://git.example.com/acme/shop-backend.git",
                                 is_private=True, username="ci", token=repository_token)

    # Minted secrets, each shown once.
    anonymous = APIClient()
    api_token = anonymous.post("/api/v1/auth/token/", {"username": "maya", "password": "pass-word-123"}).json()["token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token}")
    ci_token = api.post(f"/api/v1/repositories/{repository.pk}/ci-tokens/", {"name": "pipeline"},
                        format="json").json()["secret"]
    webhook_secret = api.post(f"/api/v1/repositories/{repository.pk}/webhook-secret/").json()["webhook_secret"]
    secrets = {"repository": repository_token, "deploy": deploy_token, "ci": ci_token,
               "webhook": webhook_secret, "api": api_token}

    # Each used the way it is meant to be.
    ci = APIClient()
    ci.credentials(HTTP_AUTHORIZATION=f"Bearer {ci_token}")
    assert ci.post(f"/api/v1/repositories/{repository.pk}/sync/").status_code == 202
    push = {"ref": "refs/heads/main", "checkout_sha": "a" * 40,
            "project": {"git_http_url": repository.external_url, "path_with_namespace": "acme/shop-backend"}}
    hook = Client().post("/api/v1/hooks/gitlab/", json.dumps(push), content_type="application/json",
                         HTTP_X_GITLAB_EVENT="Push Hook", HTTP_X_GITLAB_TOKEN=webhook_secret,
                         HTTP_X_GITLAB_EVENT_UUID="delivery-1")
    assert hook.status_code == 202, hook.content

    # Admin edits of the project and the repository (organization/slug/project/name are read-only now and
    # ignored, but sent as the old admin form required them).
    admin = Client()
    admin.force_login(root)
    edited = admin.post(f"/admin/console/project/{project.pk}/change/", {
        "organization": project.organization_id, "slug": project.slug, "name": "Renamed", "description": "",
    })
    assert edited.status_code == 302, edited.content.decode()[:1000]
    edited = admin.post(f"/admin/console/repository/{repository.pk}/change/", {
        "project": project.pk, "name": "app", "external_url": repository.external_url, "is_private": "on",
        "username": "ci", "token": "", "deploy_kind": "", "deploy_path": ".", "deploy_revision": "HEAD",
        "helm_value_files": "[]", "ci_allowed_project_paths": "[]", "ci_protected_refs_only": "on",
        "image_name": "registry.example.com/acme/app",
    })
    assert edited.status_code == 302, edited.content.decode()[:1000]
    assert Project.objects.get(pk=project.pk).name == "Renamed"
    assert AuditEvent.objects.filter(target_type="console.project", interface="admin").exists()

    responses = [api.get(path).content for path in (
        f"/api/v1/repositories/{repository.pk}/", f"/api/v1/repositories/{repository.pk}/ci-tokens/",
        f"/api/v1/repositories/{repository.pk}/ci-settings/", f"/api/v1/projects/{project.pk}/",
        f"/api/v1/projects/{project.pk}/manifests/", "/api/v1/auth/tokens/", "/api/v1/syncs/",
    )]
    responses.append(admin.get(f"/admin/console/repository/{repository.pk}/change/").content)
    responses.append(admin.get("/admin/console/auditevent/").content)
    audit = "\n".join(f"{event.before} {event.after}" for event in AuditEvent.objects.all())
    stored = every_stored_text()
    for kind, value in secrets.items():
        assert value not in stored, kind
        assert value not in audit, kind
        assert value not in caplog.text, kind
        assert all(value.encode() not in body for body in responses), kind
        assert grep_tree(settings.DATA_DIR, value) == [], kind
