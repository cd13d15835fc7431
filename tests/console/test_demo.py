"""The demo, seeded against its external repositories served on loopback, opens as a healthy project."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from console.models import Project, RunStatus, SyncRun
from console.services.images import redeploy_warnings
from provisioning.githttp import GitHttpServer
from tests.console.services.test_flow import executed  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_the_demo_opens_without_a_redeploy_warning(forge_server, executed, monkeypatch,  # noqa: F811
                                                    django_capture_on_commit_callbacks):
    from console import demo

    # Made in the same second, as a fresh demo's repositories are: no commit is "after" another.
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{int(time.time()) - 600} +0000")
    monkeypatch.setenv("GIT_AUTHOR_DATE", f"{int(time.time()) - 600} +0000")
    demo.create_external_repositories()
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    with GitHttpServer(demo.external_root(), demo.authorize_external) as server:
        monkeypatch.setattr(demo, "DEMO_EXTERNAL_PORT", server.port)
        with django_capture_on_commit_callbacks(execute=True):
            call_command("demo_seed", stdout=io.StringIO())
    project = Project.objects.get(slug="shop")
    runs = SyncRun.objects.filter(repository__project=project)
    assert runs.count() == 3 and all(r.status == RunStatus.SUCCEEDED for r in runs), [r.error_message for r in runs]
    # Every repository was imported with history older than its registration, and the infra repositories
    # already deploy the backend: nothing waits for a bump.
    assert redeploy_warnings(project) == []
