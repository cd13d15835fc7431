"""Project locks: platform admins only, a reason required, audited; a lock refuses every write on the project
and its repositories (users, pipelines, the console itself) while reads go on; the sweeps skip locked projects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console.authorization import ACTIONS, allows, authorize
from console.models import AuditEvent, RegistryWatchRun, Role, SyncRun, SyncSchedule
from console.models.registries import ContainerRegistry, WatchedImage
from console.services.actors import Actor
from console.services.ci_tokens import CiGrant, ci_token_create
from console.services.errors import DomainError, PermissionDenied, ProjectLocked
from console.services.memberships import membership_set
from console.services.project_locks import project_lock, project_unlock
from console.services.projects import project_provision_request
from console.services.registry_watch import registry_watch_sweep
from console.services.repositories import repository_update
from console.services.schedules import scheduled_syncs_sweep, sync_schedule_set
from console.services.syncs import sync_request
from tests.factories import make_member, make_project, make_repository, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    stand_in(monkeypatch, "sync", lambda run_id: None)
    stand_in(monkeypatch, "provisioning", lambda run_id: None)
    stand_in(monkeypatch, "registry_watch", lambda run_id: None)


@pytest.fixture
def admin():
    return Actor.for_user(make_user("root", staff=True), "api")


@pytest.fixture
def repository():
    return make_repository(make_project(), name="app")


def test_a_platform_admin_locks_with_a_reason_and_it_is_audited(admin, repository):
    project = repository.project
    assert project_lock(actor=admin, project=project, reason="  incident 42: freeze  ") is True
    project.refresh_from_db()
    assert project.is_locked and project.locked_by.username == "root" and project.lock_reason == "incident 42: freeze"
    event = AuditEvent.objects.get(action="project.lock")
    assert event.target_id == str(project.pk) and event.actor_label == "root"
    assert event.after == {"locked": True, "reason": "incident 42: freeze"}


def test_locking_a_locked_project_keeps_the_first_lock(admin, repository):
    project = repository.project
    project_lock(actor=admin, project=project, reason="first")
    other = Actor.for_user(make_user("second-admin", staff=True), "api")
    stale = type(project).objects.get(pk=project.pk)
    assert project_lock(actor=other, project=stale, reason="second") is False
    assert (stale.lock_reason, stale.locked_by_id) == ("first", project.locked_by_id)
    project.refresh_from_db()
    assert project.lock_reason == "first" and project.locked_by.username == "root"
    assert AuditEvent.objects.filter(action="project.lock").count() == 1


def test_the_reason_is_required(admin, repository):
    with pytest.raises(DomainError) as refused:
        project_lock(actor=admin, project=repository.project, reason="   ")
    assert refused.value.code == "reason_required"
    assert "reason" in refused.value.message
    repository.project.refresh_from_db()
    assert not repository.project.is_locked


def test_only_platform_admins_lock_and_unlock(admin, repository):
    owner = make_user()
    make_member(owner, repository.project, Role.OWNER)
    with pytest.raises(PermissionDenied, match="only platform admins"):
        project_lock(actor=Actor.for_user(owner, "api"), project=repository.project, reason="mine")
    project_lock(actor=admin, project=repository.project, reason="incident")
    with pytest.raises(PermissionDenied):
        project_unlock(actor=Actor.for_user(owner, "api"), project=repository.project)
    assert ACTIONS["project.lock"].write is False


def test_unlock_lifts_the_lock_and_records_what_it_was(admin, repository):
    project = repository.project
    assert project_unlock(actor=admin, project=project) is False  # nothing to lift
    project_lock(actor=admin, project=project, reason="incident")
    assert project_unlock(actor=admin, project=project) is True
    project.refresh_from_db()
    assert (project.locked_at, project.locked_by, project.lock_reason) == (None, None, "")
    event = AuditEvent.objects.get(action="project.unlock")
    assert event.before["reason"] == "incident" and event.before["locked_by"] == "root"
    sync_request(actor=admin, repository=repository, trigger="api")  # writes work again


def test_a_lock_refuses_writes_whoever_asks_and_says_who_when_why(admin, repository):
    project = repository.project
    developer = make_user("dave")
    make_member(developer, project, Role.OWNER)
    project_lock(actor=admin, project=project, reason="incident 42")
    project.refresh_from_db()
    repository.refresh_from_db()
    staff, owner = admin, Actor.for_user(developer, "api")
    for actor in (staff, owner, Actor.system("dso-console")):
        with pytest.raises(ProjectLocked) as refused:
            sync_request(actor=actor, repository=repository, trigger="api")
        assert refused.value.status_code == 409 and refused.value.code == "project_locked"
        when = project.locked_at.isoformat(timespec="seconds")
        assert refused.value.message == f"project {project.full_slug} is locked by root since {when}: incident 42"
    with pytest.raises(ProjectLocked):
        project_provision_request(actor=owner, project=project)
    with pytest.raises(ProjectLocked):
        membership_set(actor=owner, project=project, username="root", role=Role.READER)
    with pytest.raises(ProjectLocked):
        repository_update(actor=owner, repository=repository, deploy_path="x")
    with pytest.raises(ProjectLocked):
        sync_schedule_set(actor=owner, repository=repository, interval_seconds=3600)
    assert not SyncRun.objects.exists()
    # Reads stay open, and a caller that only lists what a write role may see passes too.
    authorize(owner, "project.view", project)
    authorize(owner, "repository.view", repository)
    authorize(owner, "project.edit", project, reading=True)
    assert not allows(owner, "repository.sync", repository)


def test_a_pipeline_is_refused_on_a_locked_repository_but_a_stranger_learns_nothing_of_the_lock(admin, repository):
    token, _secret = ci_token_create(actor=admin, repository=repository, name="ci", scopes=["sync"])
    project_lock(actor=admin, project=repository.project, reason="incident")
    repository.refresh_from_db()
    pipeline = Actor.for_grant(CiGrant.for_token(token), AuditEvent.Interface.CI)
    with pytest.raises(ProjectLocked):
        sync_request(actor=pipeline, repository=repository, trigger="ci")
    # Who may not write at all is told so (403), not that the project is locked.
    with pytest.raises(PermissionDenied):
        sync_request(actor=Actor.for_user(make_user(), "api"), repository=repository, trigger="api")


def test_the_schedule_sweep_skips_locked_projects_without_failed_runs(admin):
    locked_repository, open_repository = make_repository(make_project()), make_repository(make_project())
    for repository in (locked_repository, open_repository):
        sync_schedule_set(actor=admin, repository=repository, interval_seconds=600)
    SyncSchedule.objects.update(next_at=timezone.now() - timedelta(seconds=1))
    project_lock(actor=admin, project=locked_repository.project, reason="incident")

    assert scheduled_syncs_sweep() == {"queued": 1, "joined": 0, "skipped": 1, "batches": 1}
    assert list(SyncRun.objects.values_list("repository", flat=True)) == [open_repository.pk]
    # Still scheduled: it is asked again at its pace, and synced once unlocked.
    assert SyncSchedule.objects.get(repository=locked_repository).next_at > timezone.now()


def test_the_registry_watch_sweep_skips_locked_projects(admin):
    locked, open_ = make_project(), make_project()
    for project in (locked, open_):
        registry = ContainerRegistry.objects.create(project=project, name="main", url="https://registry.example.com")
        WatchedImage.objects.create(registry=registry, repository="team/app")
    project_lock(actor=admin, project=locked, reason="incident")
    assert registry_watch_sweep() == {"asked": 1}
    assert RegistryWatchRun.objects.get().registry.project == open_
