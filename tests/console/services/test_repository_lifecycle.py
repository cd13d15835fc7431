"""A repository's life after registration, through the services with real git and the local forge: a
wrong token fixed by an edit, requests coalesced into one provisioning run labelled by cause, removal
that archives the mirror aside and lets the name be registered again."""

from __future__ import annotations

import pytest

from console.integrations import get_forge, get_mirror, platform_repository_path
from console.models import AuditEvent, ProvisioningRun, Repository, RunStatus, SyncRun
from console.services.organizations import organization_create
from console.services.projects import project_create
from console.services.repositories import repository_register, repository_remove, repository_update
from console.services.syncs import mirror_cache_key
from tests.console.services.test_flow import actor, executed, owner, platform_files, run_queued_tasks  # noqa: F401
from tests.console.services.test_flow_gitlab import gitlab_forge  # noqa: F401 - fixture
from tests.doubles.gitlab.fixtures import gitlab_double  # noqa: F401 - fixture
from tests.support.gitrepos import git, refs

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(actor, executed, forge_server, django_capture_on_commit_callbacks):  # noqa: F811
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    return project


def last_commit_message(settings) -> str:
    return git("log", "-1", "--format=%B", "main", cwd=settings.LOCAL_FORGE_ROOT / f"{platform_repository_path()}.git")


def test_a_wrong_token_is_fixed_by_editing_it(project, actor, private_external_forge, settings,  # noqa: F811
                                              django_capture_on_commit_callbacks):
    app = private_external_forge.create("app")
    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(actor=actor, project=project, name="backend", is_private=True,
                                         external_url=private_external_forge.url("app"), token="wrong-token")
    failed = SyncRun.objects.get(repository=repository)
    assert failed.status == RunStatus.FAILED and failed.error_code == "authentication_failed"

    with django_capture_on_commit_callbacks(execute=True):
        repository_update(actor=actor, repository=repository, token=private_external_forge.token)

    retry = SyncRun.objects.filter(repository=repository).latest("id")
    assert retry.pk != failed.pk and retry.trigger == "portal"
    assert retry.status == RunStatus.SUCCEEDED, retry.error_message
    assert refs(settings.LOCAL_FORGE_ROOT / f"{repository.internal_path}.git") == refs(app.bare)


def test_requests_join_one_provisioning_run_that_names_every_cause(
    actor, executed, forge_server, external_forge, settings, django_capture_on_commit_callbacks  # noqa: F811
):
    external_forge.create("app")
    external_forge.create("deploy", {"kustomization.yaml": "resources: []\n"})
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks() as callbacks:
        project, run = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
        repository_register(actor=actor, project=project, name="backend", external_url=external_forge.url("app"))
        repository_register(actor=actor, project=project, name="deploy", external_url=external_forge.url("deploy"),
                            is_infra=True, deploy_kind="kustomize")
    run_queued_tasks(callbacks)

    assert ProvisioningRun.objects.filter(project=project).count() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.cause == "project_created" and run.trigger == "portal" and run.joined_requests == 2
    assert run.cause_labels == ["project created", "repository added (backend)", "repository added (deploy)"]
    message = last_commit_message(settings)
    assert message.startswith(
        "Provision acme/shop: project created, repository added (backend), repository added (deploy)\n")
    assert f"Provisioning run #{run.pk} (Portal, alice). 2 more requests joined it." in message


def test_removal_archives_the_mirror_aside_and_frees_the_name(
    project, actor, external_forge, settings, django_capture_on_commit_callbacks  # noqa: F811
):
    app = external_forge.create("app")
    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(actor=actor, project=project, name="backend",
                                         external_url=external_forge.url("app"))
    repository.refresh_from_db()
    old_url, old_id, internal = repository.internal_url, repository.pk, repository.internal_path
    assert old_url in platform_files(settings, "projects/acme/shop")["appproject.yaml"]
    assert get_mirror().cache_path(mirror_cache_key(repository)).exists()

    with django_capture_on_commit_callbacks(execute=True):
        run = repository_remove(actor=actor, repository=repository).run

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.result["retired_repositories"] == [f"{internal}-removed-{old_id}"]
    assert not Repository.objects.filter(pk=old_id).exists()
    assert old_url not in platform_files(settings, "projects/acme/shop")["appproject.yaml"]
    assert last_commit_message(settings).startswith("Provision acme/shop: repository removed (backend)\n")
    forge = get_forge()
    assert not (settings.LOCAL_FORGE_ROOT / f"{internal}.git").exists()
    assert forge.is_archived(f"{internal}-removed-{old_id}")  # kept, read-only, with its history
    assert refs(settings.LOCAL_FORGE_ROOT / f"{internal}-removed-{old_id}.git") == refs(app.bare)
    assert not get_mirror().cache_path(mirror_cache_key(Repository(pk=old_id))).exists()
    assert AuditEvent.objects.filter(action="repository.remove", target_id=str(old_id)).exists()

    # The name is free again: a new registration gets a fresh, writable mirror at the same path.
    with django_capture_on_commit_callbacks(execute=True):
        again = repository_register(actor=actor, project=project, name="backend",
                                    external_url=external_forge.url("app"))
    sync = SyncRun.objects.get(repository=again)
    assert sync.status == RunStatus.SUCCEEDED, sync.error_message
    assert not forge.is_archived(internal)
    assert refs(settings.LOCAL_FORGE_ROOT / f"{internal}.git") == refs(app.bare)


def test_removal_with_gitlab_as_the_forge(gitlab_forge, actor, executed, external_forge,  # noqa: F811
                                          django_capture_on_commit_callbacks):
    external_forge.create("app")
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
        repository = repository_register(actor=actor, project=project, name="backend",
                                         external_url=external_forge.url("app"))
    gitlab_id = gitlab_forge.project("dso/acme/shop/backend").id

    with django_capture_on_commit_callbacks(execute=True):
        run = repository_remove(actor=actor, repository=repository).run

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    retired = gitlab_forge.project(f"dso/acme/shop/backend-removed-{run.causes[0]['repository_id']}")
    assert retired.id == gitlab_id and retired.archived
    with django_capture_on_commit_callbacks(execute=True):
        again = repository_register(actor=actor, project=project, name="backend",
                                    external_url=external_forge.url("app"))
    assert SyncRun.objects.get(repository=again).status == RunStatus.SUCCEEDED
    assert not gitlab_forge.project("dso/acme/shop/backend").archived
