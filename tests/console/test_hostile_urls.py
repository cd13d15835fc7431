"""Every URL of the hostile corpus is refused the same way through the service, the API and the portal,
before anything resolves or connects; a URL stored before these rules is refused again when a worker
would connect to it; and changing a repository's URL needs its token again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient
from ruamel.yaml import YAML

from console.models import Repository, Role, RunStatus, SyncRun, Trigger
from console.services.actors import Actor
from console.services.errors import DomainError
from console.services.provisioning import repository_forge_path
from console.services.repositories import repository_register, repository_update
from console.services.syncs import sync_execute, sync_request
from provisioning import netguard
from tests.factories import make_member, make_project, make_repository, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile_urls.yaml"
HOSTILE = [url for group in YAML(typ="safe").load(CORPUS.read_text(encoding="utf-8")).values() for url in group]


@pytest.fixture
def strict(settings):
    """Production-like: no loopback escape, no internal hosts allowed, a GitLab forge and a public console."""
    settings.ALLOW_HTTP_LOOPBACK = False
    settings.ALLOWED_INTERNAL_HOSTS = []
    settings.GITLAB_URL = "https://gitlab.platform.example"
    settings.PUBLIC_URL = "https://console.platform.example"


class _Calls(list):
    answers: dict[str, list[str]]


@pytest.fixture
def resolutions(monkeypatch) -> _Calls:
    """Every name the guard resolves; answers come from ``answers`` only, never from DNS."""
    calls = _Calls()
    calls.answers = answers = {}

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        if host not in answers:
            raise OSError("not in the test's answers")
        return answers[host]

    monkeypatch.setattr(netguard, "resolve_host", resolve)
    return calls


@pytest.fixture
def maintainer_project():
    project = make_project()
    user = make_user()
    make_member(user, project, Role.MAINTAINER)
    return user, project


def _service_errors(user, project, url: str) -> list[str] | None:
    try:
        repository_register(actor=Actor.for_user(user, "api"), project=project, name="app", external_url=url)
    except DomainError as exc:
        return exc.message["external_url"] if isinstance(exc.message, dict) else [exc.message]
    return None


def test_every_hostile_url_is_refused_identically_everywhere_and_nothing_connects(
        strict, resolutions, maintainer_project, monkeypatch):
    user, project = maintainer_project
    enqueued = []
    stand_in(monkeypatch, "sync", enqueued.append)
    stand_in(monkeypatch, "provisioning", enqueued.append)
    api, portal = APIClient(), Client()
    api.force_authenticate(user)
    portal.force_login(user)
    mismatches = {}
    for url in HOSTILE:
        service = _service_errors(user, project, url)
        response = api.post(f"/api/v1/projects/{project.pk}/repositories/", {"name": "app", "external_url": url},
                            format="json")
        through_api = response.json()["detail"].get("external_url") if response.status_code == 400 else None
        page = portal.post(f"/projects/{project.pk}/repositories/", {
            "repo-name": "app", "repo-external_url": url, "repo-deploy_path": ".", "repo-deploy_revision": "HEAD"})
        form = page.context["repository_form"] if page.status_code == 200 else None
        through_portal = list(form.errors.get("external_url", [])) if form is not None else None
        if not service or not (service == through_api == through_portal):
            mismatches[url] = (service, response.status_code, through_api, page.status_code, through_portal)
    assert mismatches == {}
    assert not Repository.objects.exists() and not SyncRun.objects.exists() and enqueued == []
    assert resolutions == []  # refused before any name was even looked up


@pytest.mark.parametrize("url", ["https://github.com/team/app.git",
                                 # The internal GitLab may host the teams' own repositories, outside its DSO group.
                                 "https://gitlab.platform.example/team/app.git",
                                 "https://gitlab.platform.example/dso-tools/app.git"])
def test_a_public_url_is_still_accepted(strict, resolutions, maintainer_project, url):
    user, project = maintainer_project
    assert _service_errors(user, project, url) is None
    assert resolutions == []  # resolving waits for the worker's connection, never at validation


def test_internal_hosts_on_the_allow_list_are_accepted(strict, settings, maintainer_project):
    settings.ALLOWED_INTERNAL_HOSTS = ["git.corp", "10.20.0.0/16"]
    user, project = maintainer_project
    assert _service_errors(user, project, "https://git.corp/team/app.git") is None
    Repository.objects.get().delete()
    assert _service_errors(user, project, "https://10.20.1.2/team/app.git") is None
    Repository.objects.get().delete()
    # ...but never the internal forge, allowed or not.
    settings.ALLOWED_INTERNAL_HOSTS = ["gitlab.platform.example"]
    assert "internal forge" in _service_errors(user, project, "https://gitlab.platform.example/dso/x.git")[0]


@pytest.fixture
def queued_sync(monkeypatch, django_capture_on_commit_callbacks):
    def make(url: str) -> SyncRun:
        stand_in(monkeypatch, "sync", lambda run_id: None)
        # Stored as it would have been before these rules existed: no validation on the way in.
        repository = make_repository(external_url=url, username="ci", token="tok-stored-secret")
        repository.internal_path = repository_forge_path(repository)
        repository.save(update_fields=["internal_path"])
        with django_capture_on_commit_callbacks(execute=False):
            return sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run

    return make


@pytest.mark.parametrize("url", ["https://169.254.169.254/latest/meta-data/", "https://127.1/team/app.git"])
def test_a_stored_hostile_url_fails_the_sync_before_connecting(strict, resolutions, queued_sync, url):
    run = queued_sync(url)
    sync_execute(run_id=run.pk, task_id="task-1")
    run.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "address_not_allowed"), run.error_message
    assert run.error_message.startswith("DSO Console does not connect to this repository URL: ")
    assert "tok-stored-secret" not in run.error_message
    assert resolutions == []


def test_a_name_that_now_resolves_privately_fails_the_sync_with_a_fixed_message(strict, resolutions, queued_sync):
    resolutions.answers["git.rebind.example"] = ["10.0.0.9"]
    run = queued_sync("https://git.rebind.example/team/app.git")
    sync_execute(run_id=run.pk, task_id="task-1")
    run.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "address_not_allowed"), run.error_message
    assert run.error_message == netguard.NOT_PUBLIC
    assert resolutions == [("git.rebind.example", 443)]


def test_any_change_of_the_url_needs_the_token_again(maintainer_project):
    user, project = maintainer_project
    repository = make_repository(project, external_url="https://git.example.com/acme/app.git", token="tok-1")
    actor = Actor.for_user(user, "portal")
    for other in ("https://git.example.com/other-team/secret.git", "https://git.example.com/acme/app2.git",
                  "https://git.example.com:8443/acme/app.git", "https://evil.example/acme/app.git"):
        with pytest.raises(DomainError) as refused:
            repository_update(actor=actor, repository=repository, external_url=other)
        assert refused.value.code == "token_required_for_new_url"
        repository.refresh_from_db()
        assert repository.external_url == "https://git.example.com/acme/app.git"
    repository_update(actor=actor, repository=repository, external_url="https://git.example.com/acme/app")
    repository_update(actor=actor, repository=repository, external_url="https://git.example.com/acme/app2.git",
                      token="tok-2")
    repository.refresh_from_db()
    assert (repository.external_url, repository.token) == ("https://git.example.com/acme/app2.git", "tok-2")
