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
