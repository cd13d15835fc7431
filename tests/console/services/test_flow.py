"""The whole onboarding flow through the services, with real git over loopback and the local forge."""

from __future__ import annotations

import pytest

from console.integrations import get_forge, platform_repository_path
from console.models import AuditEvent, Project, ProvisioningRun, RunStatus, SyncRun, Trigger
from console.services.actors import Actor
from console.services.organizations import organization_create
from console.services.projects import project_archive, project_create, project_provision_request
from console.services.provisioning import provisioning_execute
from console.services.repositories import repository_register
from console.services.syncs import sync_execute, sync_request
from tests.factories import make_user
from tests.support.gitrepos import refs
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


def run_queued_tasks(callbacks):
    """Run what the services enqueued on commit, in this process, the way the worker would."""
    for callback in callbacks:
        callback()


@pytest.fixture
def executed(monkeypatch):
    """Replace the broker hop by a direct call of the same task body (the broker path has its own test)."""

    stand_in(monkeypatch, "sync", lambda run_id: sync_execute(run_id=run_id, task_id=f"sync-{run_id}"))
    stand_in(monkeypatch, "provisioning",
        lambda run_id: provisioning_execute(run_id=run_id, task_id=f"prov-{run_id}"),
    )
    from console.services.image_bumps import image_bump_execute

    stand_in(monkeypatch, "image_bump", lambda bump_id: image_bump_execute(run_id=bump_id, task_id=f"bump-{bump_id}")
    )


@pytest.fixture
def owner():
    return make_user("alice")


@pytest.fixture
def actor(owner):
    return Actor.for_user(owner, "portal")


def platform_files(settings, directory: str) -> dict[str, str]:
    from console.integrations import get_delivery

    return get_delivery().read(directory)


def test_project_creation_provisions_forge_groups_and_delivers_manifests(
    forge_server, executed, actor, settings, django_capture_on_commit_callbacks
):
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, run = project_create(actor=actor, organization=organization, slug="shop", name="Shop")

    run.refresh_from_db()
    project.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert project.status == Project.Status.READY
    assert project.namespace == "acme-shop"
    files = platform_files(settings, "projects/acme/shop")
    assert {"namespace.yaml", "appproject.yaml", "networkpolicy.yaml", "kustomization.yaml"} <= set(files)
    assert "name: acme-shop" in files["namespace.yaml"]
    forge_root = settings.LOCAL_FORGE_ROOT
    assert (forge_root / "dso" / "acme" / "shop").is_dir()
    assert {e.action for e in AuditEvent.objects.all()} >= {"organization.create", "project.create"}

    # Re-running provisioning changes nothing: no new commit in the platform repository.
    platform = forge_root / f"{platform_repository_path()}.git"
    before = refs(platform)
    with django_capture_on_commit_callbacks(execute=True):
        again = project_provision_request(actor=actor, project=project, trigger=Trigger.API).run
    again.refresh_from_db()
    assert again.status == RunStatus.NO_CHANGE
    assert refs(platform) == before


def test_registering_repositories_mirrors_them_and_records_ref_changes(
    forge_server, external_forge, executed, actor, settings, django_capture_on_commit_callbacks
):
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    app = external_forge.create("app")
    app.tag("v1")
    app.publish(app.bare)

    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(actor=actor, project=project, name="app", external_url=external_forge.url("app"))

    initial = SyncRun.objects.get(repository=repository)
    assert initial.trigger == Trigger.INITIAL
    assert initial.status == RunStatus.SUCCEEDED, initial.error_message
    assert {(c.ref, c.kind) for c in initial.ref_changes.all()} == {
        ("refs/heads/main", "created"), ("refs/tags/v1", "created")
    }
    internal = settings.LOCAL_FORGE_ROOT / f"{repository.internal_path}.git"
    assert refs(internal) == refs(app.bare)
    # The AppProject now lists the internal repository as an allowed source.
    appproject = platform_files(settings, "projects/acme/shop")["appproject.yaml"]
    repository.refresh_from_db()
    assert repository.internal_url in appproject

    # Nothing new: a recorded no-op.
    with django_capture_on_commit_callbacks(execute=True):
        second = sync_request(actor=actor, repository=repository, trigger=Trigger.PORTAL).run
    second.refresh_from_db()
    assert second.status == RunStatus.NO_CHANGE
    assert second.ref_changes.count() == 0

    # New commit, deleted tag, force-pushed branch.
    app.checkout("feature", create=True)
    app.commit("feature work")
    app.publish(app.bare)
    with django_capture_on_commit_callbacks(execute=True):
        sync_request(actor=actor, repository=repository, trigger=Trigger.API)
    app.checkout("main")
    old_main = app.sha("main")
    app.commit("more")
    app.delete_tag("v1")
    app.git("branch", "-f", "feature", old_main + "~0")
    app.publish(app.bare)
    with django_capture_on_commit_callbacks(execute=True):
        third = sync_request(actor=actor, repository=repository, trigger=Trigger.API).run
    third.refresh_from_db()
    kinds = {c.ref: c.kind for c in third.ref_changes.all()}
    assert kinds == {"refs/heads/main": "updated", "refs/tags/v1": "deleted", "refs/heads/feature": "forced"}
    assert refs(internal) == refs(app.bare)
    assert third.duration_seconds is not None


def test_private_repository_token_is_used_and_never_stored_in_clear(
    forge_server, private_external_forge, executed, actor, settings, django_capture_on_commit_callbacks
):
    from django.db import connection

    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    private_external_forge.create("secret-app")
    with django_capture_on_commit_callbacks(execute=True):
        good = repository_register(
            actor=actor, project=project, name="good", external_url=private_external_forge.url("secret-app"),
            is_private=True, username="ci", token=private_external_forge.token,
        )
        bad = repository_register(
            actor=actor, project=project, name="bad", external_url=private_external_forge.url("secret-app"),
            is_private=True, username="ci", token="wrong-token-value",
        )
    good_run = SyncRun.objects.get(repository=good)
    bad_run = SyncRun.objects.get(repository=bad)
    assert good_run.status == RunStatus.SUCCEEDED, good_run.error_message
    assert bad_run.status == RunStatus.FAILED
    assert bad_run.error_code == "authentication_failed"
    assert "token" in bad_run.error_message
    assert "wrong-token-value" not in bad_run.error_message

    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM console_repository")
        stored = [row[0] for row in cursor.fetchall()]
    assert all(value.startswith("fernet:") for value in stored)
    assert not any(private_external_forge.token in value for value in stored)
    for event in AuditEvent.objects.all():
        assert private_external_forge.token not in str(event.after) + str(event.before)


def test_unreachable_repository_fails_with_a_reason_after_retries(forge_server, executed, actor, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    from console.services import runs

    monkeypatch.setattr(runs, "MAX_ATTEMPTS", 1)  # retry policy itself is covered by the task test
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    from tests.support.gitrepos import closed_port

    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(actor=actor, project=project, name="gone",
                                         external_url=f"http://127.0.0.1:{closed_port()}/nothing.git")
    run = SyncRun.objects.get(repository=repository)
    assert run.status == RunStatus.FAILED
    assert run.error_code == "unreachable"


def test_archiving_removes_manifests_and_stops_syncs(forge_server, external_forge, executed, actor, settings,
                                                     django_capture_on_commit_callbacks):
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    external_forge.create("app")
    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(actor=actor, project=project, name="app", external_url=external_forge.url("app"))
    with django_capture_on_commit_callbacks(execute=True):
        run = project_archive(actor=actor, project=project).run
    run.refresh_from_db()
    project.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.action == ProvisioningRun.Action.ARCHIVE
    assert project.status == Project.Status.ARCHIVED
    assert platform_files(settings, "projects/acme/shop") == {}
    assert get_forge().is_archived(repository.internal_path)
    from console.services.errors import Conflict

    with pytest.raises(Conflict):
        sync_request(actor=actor, repository=repository, trigger=Trigger.PORTAL)


def test_a_default_branch_switch_upstream_is_mirrored_even_when_no_ref_moved(
    forge_server, external_forge, executed, actor, settings, django_capture_on_commit_callbacks
):
    from tests.support.gitrepos import git, head_branch

    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop")
    app = external_forge.create("app")
    app.branch("develop")
    app.publish(app.bare)
    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(actor=actor, project=project, name="app", external_url=external_forge.url("app"))
    internal = settings.LOCAL_FORGE_ROOT / f"{repository.internal_path}.git"
    assert head_branch(internal) == "main"

    git("symbolic-ref", "HEAD", "refs/heads/develop", cwd=app.bare)
    with django_capture_on_commit_callbacks(execute=True):
        run = sync_request(actor=actor, repository=repository, trigger=Trigger.API).run
    run.refresh_from_db()
    repository.refresh_from_db()
    assert run.status == RunStatus.NO_CHANGE
    assert repository.default_branch == "develop"
    assert head_branch(internal) == "develop"
