"""The foundation flow with DSO_FORGE=gitlab, against the GitLab REST v4 double on loopback."""

from __future__ import annotations

import pytest

from console.models import Repository, RunStatus, SyncRun, Trigger
from console.services.actors import Actor
from console.services.organizations import organization_create
from console.services.projects import project_create, project_provision_request
from console.services.repositories import repository_register
from console.services.syncs import sync_request
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.doubles.gitlab.fixtures import gitlab_double  # noqa: F401 - fixture
from tests.factories import make_user
from tests.support.gitrepos import refs

pytestmark = pytest.mark.django_db


@pytest.fixture
def gitlab_forge(settings, gitlab_double):  # noqa: F811
    settings.FORGE_KIND = "gitlab"
    settings.GITLAB_URL = gitlab_double.url
    settings.GITLAB_TOKEN = gitlab_double.admin_token
    settings.GITLAB_BOT_USERNAME = "dso-console-bot"
    settings.GITLAB_BOT_TOKEN = gitlab_double.bot_token
    settings.GITLAB_GIT_URL = gitlab_double.git.url
    return gitlab_double


def test_whole_flow_with_gitlab_as_the_forge(gitlab_forge, external_forge, executed, settings,  # noqa: F811
                                             django_capture_on_commit_callbacks):
    actor = Actor.for_user(make_user("alice"), "api")
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, run = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert gitlab_forge.state.group("dso/acme/shop").full_path == "dso/acme/shop"
    project.refresh_from_db()
    assert project.argocd_username and project.argocd_token  # the read-only deploy token for Argo CD

    app = external_forge.create("app")
    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(actor=actor, project=project, name="backend",
                                         external_url=external_forge.url("app"))
    sync = SyncRun.objects.get(repository=repository)
    assert sync.status == RunStatus.SUCCEEDED, sync.error_message
    assert refs(gitlab_forge.repo_dir("dso/acme/shop/backend")) == refs(app.bare)

    # The platform repository in GitLab holds the project's manifests, naming the GitLab clone URL.
    platform = gitlab_forge.repo_dir("dso/platform/gitops")
    from tests.support.gitrepos import git

    appproject = git("show", "main:projects/acme/shop/appproject.yaml", cwd=platform)
    assert gitlab_forge.clone_url("dso/acme/shop/backend") in appproject

    # Argo CD's deploy token reads the mirror and cannot push to it.
    from provisioning.forge.base import GitRemote
    from provisioning.mirror import ls_remote

    argocd = GitRemote(gitlab_forge.clone_url("dso/acme/shop/backend"), project.argocd_username, project.argocd_token)
    assert ls_remote(argocd) == refs(app.bare)

    # A force-push upstream is mirrored by the bot through the protected branch.
    app.commit("will be rewritten")
    app.publish(app.bare)
    with django_capture_on_commit_callbacks(execute=True):
        sync_request(actor=actor, repository=repository, trigger=Trigger.API)
    app.reset_hard("HEAD~1")
    app.commit("rewritten")
    app.publish(app.bare)
    with django_capture_on_commit_callbacks(execute=True):
        forced = sync_request(actor=actor, repository=repository, trigger=Trigger.API).run
    forced.refresh_from_db()
    assert forced.status == RunStatus.SUCCEEDED, forced.error_message
    assert [c.kind for c in forced.ref_changes.all()] == ["forced"]

    # Re-running provisioning makes no change in GitLab.
    writes_before = len(gitlab_forge.state.writes())
    with django_capture_on_commit_callbacks(execute=True):
        again = project_provision_request(actor=actor, project=project, trigger=Trigger.API).run
    again.refresh_from_db()
    assert again.status == RunStatus.NO_CHANGE, again.result
    assert len(gitlab_forge.state.writes()) == writes_before


def _registered(actor, project, external_forge, django_capture_on_commit_callbacks):  # noqa: F811
    app = external_forge.create("app")
    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(actor=actor, project=project, name="backend",
                                         external_url=external_forge.url("app"))
    assert SyncRun.objects.get(repository=repository).status == RunStatus.SUCCEEDED
    repository.refresh_from_db()
    return app, repository


def _sync(actor, repository, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = sync_request(actor=actor, repository=repository, trigger=Trigger.API).run
    run.refresh_from_db()
    return run


@pytest.fixture
def provisioned(gitlab_forge, executed, django_capture_on_commit_callbacks):  # noqa: F811
    actor = Actor.for_user(make_user("alice"), "api")
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    project.refresh_from_db()
    return actor, project


def test_a_sync_with_nothing_new_makes_one_gitlab_request_and_mints_no_token(
        gitlab_forge, provisioned, external_forge, django_capture_on_commit_callbacks):  # noqa: F811
    actor, project = provisioned
    # Forge ids stored at provisioning and at the sync that created the mirror.
    assert project.forge_group_id == gitlab_forge.state.group("dso/acme/shop").id
    _, repository = _registered(actor, project, external_forge, django_capture_on_commit_callbacks)
    assert repository.forge_id == gitlab_forge.state.project("dso/acme/shop/backend").id
    tokens_before = dict(gitlab_forge.state.deploy_tokens)
    gitlab_forge.state.requests.clear()

    run = _sync(actor, repository, django_capture_on_commit_callbacks)

    assert run.status == RunStatus.NO_CHANGE, run.error_message
    requests = [(r.method, r.path) for r in gitlab_forge.state.requests]
    assert requests == [("GET", f"/projects/{repository.forge_id}")]
    assert gitlab_forge.state.deploy_tokens == tokens_before


def test_a_sync_falls_back_to_the_path_when_the_stored_id_is_gone(
        gitlab_forge, provisioned, external_forge, django_capture_on_commit_callbacks):  # noqa: F811
    actor, project = provisioned
    app, repository = _registered(actor, project, external_forge, django_capture_on_commit_callbacks)
    real_id = repository.forge_id
    Repository.objects.filter(pk=repository.pk).update(forge_id=real_id + 10_000)
    app.commit("more")
    app.publish(app.bare)

    run = _sync(actor, repository, django_capture_on_commit_callbacks)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert refs(gitlab_forge.repo_dir("dso/acme/shop/backend")) == refs(app.bare)
    repository.refresh_from_db()
    assert repository.forge_id == real_id


def test_reprovisioning_keeps_the_argocd_token_and_replaces_a_revoked_one(
        gitlab_forge, provisioned, django_capture_on_commit_callbacks):  # noqa: F811
    actor, project = provisioned
    first = project.argocd_token
    with django_capture_on_commit_callbacks(execute=True):
        again = project_provision_request(actor=actor, project=project, trigger=Trigger.API).run
    again.refresh_from_db()
    project.refresh_from_db()
    assert again.status == RunStatus.NO_CHANGE and project.argocd_token == first

    next(t for t in gitlab_forge.state.deploy_tokens.values() if t.token == first).revoked = True
    with django_capture_on_commit_callbacks(execute=True):
        renewed = project_provision_request(actor=actor, project=project, trigger=Trigger.API).run
    renewed.refresh_from_db()
    project.refresh_from_db()
    assert renewed.status == RunStatus.SUCCEEDED, renewed.error_message
    assert project.argocd_token and project.argocd_token != first
