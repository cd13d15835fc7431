"""console.authorization.authorize: one answer for users, CI grants, webhooks and the console itself."""

from __future__ import annotations

import pytest

from console.authorization import ACTIONS, allows, authorize
from console.models import AuditEvent, Role
from console.models.images import ImageRelease
from console.services.actors import Actor
from console.services.built_images import built_image_report
from console.services.ci_tokens import CiGrant, ci_token_create
from console.services.errors import PermissionDenied
from console.services.webhooks import WebhookGrant
from tests.factories import make_member, make_project, make_repository, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def repository():
    return make_repository(make_project(), name="app", image_name="registry.example.com/shop/app")


def _ci_actor(repository, scopes):
    token, _ = ci_token_create(actor=Actor.for_user(make_user(staff=True), "api"), repository=repository,
                               name="-".join(scopes), scopes=scopes)
    return Actor.for_grant(CiGrant.for_token(token), AuditEvent.Interface.CI)


def test_a_user_needs_the_role_the_table_names(repository):
    reader, developer = make_user(), make_user()
    make_member(reader, repository.project, Role.READER)
    make_member(developer, repository.project, Role.DEVELOPER)
    assert ACTIONS["repository.sync"].role == Role.DEVELOPER
    with pytest.raises(PermissionDenied, match="requesting a sync needs the developer, maintainer or owner role"):
        authorize(Actor.for_user(reader, "api"), "repository.sync", repository)
    authorize(Actor.for_user(developer, "api"), "repository.sync", repository)
    assert not allows(Actor.for_user(developer, "api"), "repository.manage", repository)
    assert allows(Actor.for_user(make_user(staff=True), "api"), "project.archive", repository.project)


def test_a_ci_grant_needs_the_scope_and_its_own_repository(repository):
    sync_only = _ci_actor(repository, ["sync"])
    authorize(sync_only, "repository.sync", repository)
    with pytest.raises(PermissionDenied) as missing:
        authorize(sync_only, "repository.bump", repository)
    assert missing.value.code == "ci_scope_missing"
    with pytest.raises(PermissionDenied) as elsewhere:
        authorize(sync_only, "repository.sync", make_repository(repository.project, name="other"))
    assert elsewhere.value.code == "ci_token_wrong_repository"
    # An action with no CI scope is closed to every pipeline, whatever its token carries.
    everything = _ci_actor(repository, ["sync", "report_build", "bump"])
    for action in ("repository.manage", "repository.view", "repository.ci_manage", "project.archive"):
        assert not allows(everything, action, repository), action


def test_a_webhook_may_sync_its_own_repository_only(repository):
    actor = Actor.for_grant(WebhookGrant(label="gitlab webhook", repository_id=repository.pk), "webhook")
    authorize(actor, "repository.sync", repository)
    assert not allows(actor, "repository.bump", repository)
    assert not allows(actor, "repository.sync", make_repository(repository.project, name="other"))


def test_the_console_itself_is_allowed_but_an_anonymous_actor_without_grant_is_not(repository):
    assert allows(Actor.system(), "repository.sync", repository)
    nobody = Actor(user=None, interface=AuditEvent.Interface.CI, label="forged")
    assert not allows(nobody, "repository.sync", repository)


def test_the_built_image_report_is_authorized_by_its_own_service(repository):
    reader = make_user()
    make_member(reader, repository.project, Role.READER)
    with pytest.raises(PermissionDenied):
        built_image_report(actor=Actor.for_user(reader, "api"), repository=repository, tag="1.0")
    with pytest.raises(PermissionDenied, match="report_build"):
        built_image_report(actor=_ci_actor(repository, ["sync"]), repository=repository, tag="1.0")
    release = built_image_report(actor=_ci_actor(repository, ["report_build"]), repository=repository, tag="1.0")
    assert release.image == "registry.example.com/shop/app"
    assert ImageRelease.objects.filter(pk=release.pk, source=ImageRelease.Source.CI_REPORT).exists()


def test_a_locked_project_refuses_every_write_action_of_the_table_and_no_read(repository):
    from console.services.errors import ProjectLocked
    from console.services.project_locks import project_lock

    staff = Actor.for_user(make_user(staff=True), "api")
    project_lock(actor=staff, project=repository.project, reason="incident")
    repository.project.refresh_from_db()
    for action, rule in ACTIONS.items():
        target = repository if action.startswith("repository.") else repository.project
        if rule.write:
            with pytest.raises(ProjectLocked):
                authorize(staff, action, target)
            authorize(staff, action, target, reading=True)
        else:
            authorize(staff, action, target)
    assert {action for action, rule in ACTIONS.items() if not rule.write} >= {
        "project.view", "repository.view", "project.lock", "project.refresh"}
