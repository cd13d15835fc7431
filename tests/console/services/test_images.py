"""Image tag tracking end to end: real infra repositories with real histories, synced, scanned and bumped."""

from __future__ import annotations

import time

import pytest

from console.models import RunStatus, SyncRun, Trigger
from console.models.images import ImageBump, ImageInventoryEntry, ImageRelease, ImageTagChange
from console.services.actors import Actor
from console.services.image_bumps import image_tag_bump_request
from console.services.images import redeploy_warnings
from console.services.organizations import organization_create
from console.services.projects import project_create
from console.services.repositories import repository_register
from console.services.syncs import sync_request
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.factories import make_user
from tests.support.gitrepos import git

pytestmark = pytest.mark.django_db

VALUES = """# shop values
replicaCount: 2
image:
  repository: registry.example.com/acme/shop-backend
  tag: "{tag}"  # bumped by CI
worker:
  image: registry.example.com/acme/shop-worker:{worker}
"""


@pytest.fixture
def project(forge_server, executed, django_capture_on_commit_callbacks):  # noqa: F811
    actor = Actor.for_user(make_user("alice"), "api")
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    project.actor = actor
    return project


def sync(repository, capture):
    with capture(execute=True):
        run = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    run.refresh_from_db()
    assert run.status in (RunStatus.SUCCEEDED, RunStatus.NO_CHANGE), run.error_message
    return run


def test_every_tag_change_is_recorded_with_the_commit_that_made_it(
    project, external_forge, django_capture_on_commit_callbacks
):
    infra = external_forge.create("deploy", {"chart/values.yaml": VALUES.format(tag="1.0.0", worker="0.1")})
    infra.commit("bump backend to 1.1.0", {"chart/values.yaml": VALUES.format(tag="1.1.0", worker="0.1")})
    infra.commit("bump worker", {"chart/values.yaml": VALUES.format(tag="1.1.0", worker="0.2")})
    infra.publish(infra.bare)

    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(
            actor=project.actor, project=project, name="deploy", external_url=external_forge.url("deploy"),
            is_infra=True, deploy_kind="helm", deploy_path="chart", username="ci", token=external_forge.token,
        )
    first = SyncRun.objects.get(repository=repository)
    assert first.status == RunStatus.SUCCEEDED, first.error_message
    history = list(ImageTagChange.objects.filter(repository=repository).order_by("committed_at", "sequence"))
    assert [(c.image.rsplit("/", 1)[1], c.kind, c.old_tag, c.new_tag, c.commit_subject) for c in history] == [
        ("shop-backend", "added", "", "1.0.0", "initial commit"),
        ("shop-worker", "added", "", "0.1", "initial commit"),
        ("shop-backend", "changed", "1.0.0", "1.1.0", "bump backend to 1.1.0"),
        ("shop-worker", "changed", "0.1", "0.2", "bump worker"),
    ]
    assert all(c.sync_run_id == first.pk for c in history)
    assert first.image_scan["changes"] == 4

    # Two more commits in one sync: each recorded once, with its own commit.
    a = infra.commit("backend 1.2.0", {"chart/values.yaml": VALUES.format(tag="1.2.0", worker="0.2")})
    b = infra.commit("backend 1.3.0", {"chart/values.yaml": VALUES.format(tag="1.3.0", worker="0.2")})
    infra.publish(infra.bare)
    second = sync(repository, django_capture_on_commit_callbacks)
    recorded = {(c.commit_sha, c.old_tag, c.new_tag) for c in second.image_tag_changes.all()}
    assert recorded == {(a, "1.1.0", "1.2.0"), (b, "1.2.0", "1.3.0")}

    inventory = {(e.image, e.tag, e.location) for e in ImageInventoryEntry.objects.filter(repository=repository)}
    assert inventory == {
        ("registry.example.com/acme/shop-backend", "1.3.0", "image"),
        ("registry.example.com/acme/shop-worker", "0.2", "worker.image"),
    }
    # Nothing new: nothing recorded twice.
    sync(repository, django_capture_on_commit_callbacks)
    assert ImageTagChange.objects.filter(repository=repository).count() == 6


def test_new_app_commits_warn_until_the_infra_repo_bumps_and_the_console_can_bump(
    project, external_forge, settings, monkeypatch, django_capture_on_commit_callbacks
):
    # Git dates have one-second resolution: place the history clearly before the bump the console makes.
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{int(time.time()) - 7200} +0000")
    infra = external_forge.create("deploy", {"chart/values.yaml": VALUES.format(tag="1.0.0", worker="0.1")})
    app = external_forge.create("backend", {"app.py": "print(1)\n"})
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{int(time.time()) - 3600} +0000")
    with django_capture_on_commit_callbacks(execute=True):
        deploy = repository_register(
            actor=project.actor, project=project, name="deploy", external_url=external_forge.url("deploy"),
            is_infra=True, deploy_kind="helm", deploy_path="chart", username="ci", token=external_forge.token,
        )
        backend = repository_register(
            actor=project.actor, project=project, name="backend", external_url=external_forge.url("backend"),
            image_name="registry.example.com/acme/shop-backend",
        )
    # The first sync of the app is its import: history older than the registration waits for nothing.
    assert redeploy_warnings(project) == []
    # A commit pushed after it (dated before the infra repository's bump below) waits for a bump.
    app.commit("feature", {"app.py": "print(2)\n"})
    app.publish(app.bare)
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    sync(backend, django_capture_on_commit_callbacks)
    warnings = redeploy_warnings(project)
    assert len(warnings) == 1
    assert warnings[0]["image"] == "registry.example.com/acme/shop-backend"
    assert warnings[0]["bump_candidates"][0]["repository"] == "deploy"
    assert "chart/values.yaml image" in warnings[0]["message"]

    with django_capture_on_commit_callbacks(execute=True):
        bump = image_tag_bump_request(
            actor=project.actor, repository=deploy, image="registry.example.com/acme/shop-backend", tag="1.4.0",
            reason="release 1.4.0",
        )
    bump.refresh_from_db()
    assert bump.status == RunStatus.SUCCEEDED, bump.error_message
    assert bump.old_tag == "1.0.0"
    # The source of truth changed, byte for byte except the value.
    bumped = git("show", "main:chart/values.yaml", cwd=infra.bare)
    assert bumped == VALUES.format(tag="1.4.0", worker="0.1")
    subject = git("log", "-1", "--format=%s%n%b", "main", cwd=infra.bare)
    assert "1.0.0 -> 1.4.0" in subject and "release 1.4.0" in subject
    # The follow-up sync recorded the change as made by the console, and the warning cleared.
    change = ImageTagChange.objects.get(repository=deploy, new_tag="1.4.0")
    assert change.bump_id == bump.pk
    assert redeploy_warnings(project) == []
    assert ImageRelease.objects.filter(project=project).first().resolved_by == change  # the newest

    # Bumping to the tag already set is a recorded no-op.
    with django_capture_on_commit_callbacks(execute=True):
        again = image_tag_bump_request(actor=project.actor, repository=deploy,
                                       image="registry.example.com/acme/shop-backend", tag="1.4.0")
    again.refresh_from_db()
    assert again.status == RunStatus.NO_CHANGE
    assert ImageBump.objects.count() == 2


def test_a_ci_report_of_a_built_tag_that_is_already_deployed_does_not_warn(project, external_forge,
                                                                           django_capture_on_commit_callbacks):
    from console.services.images import image_release_record

    external_forge.create("deploy", {"chart/values.yaml": VALUES.format(tag="2.0.0", worker="0.1")})
    with django_capture_on_commit_callbacks(execute=True):
        deploy = repository_register(
            actor=project.actor, project=project, name="deploy", external_url=external_forge.url("deploy"),
            is_infra=True, deploy_kind="helm", deploy_path="chart",
        )
    image_release_record(repository=deploy, image="registry.example.com/acme/shop-backend", tag="2.0.0",
                         commit_sha="", source=ImageRelease.Source.CI_REPORT)
    assert redeploy_warnings(project) == []
    image_release_record(repository=deploy, image="registry.example.com/acme/shop-backend", tag="2.1.0",
                         commit_sha="", source=ImageRelease.Source.CI_REPORT)
    assert [w["tag"] for w in redeploy_warnings(project)] == ["2.1.0"]


def test_broken_values_never_fail_the_sync(project, external_forge, django_capture_on_commit_callbacks):
    external_forge.create("deploy", {"chart/values.yaml": "image: [unclosed\n"})
    with django_capture_on_commit_callbacks(execute=True):
        deploy = repository_register(
            actor=project.actor, project=project, name="deploy", external_url=external_forge.url("deploy"),
            is_infra=True, deploy_kind="helm", deploy_path="chart",
        )
    run = SyncRun.objects.get(repository=deploy)
    assert run.status == RunStatus.SUCCEEDED
    assert run.image_scan["problems"], run.image_scan
    assert "values.yaml" in run.image_scan["problems"][0]["file"]


def test_bump_refuses_clearly(project, external_forge, django_capture_on_commit_callbacks):
    from console.services.errors import DomainError

    external_forge.create("app")
    with django_capture_on_commit_callbacks(execute=True):
        app = repository_register(actor=project.actor, project=project, name="app",
                                  external_url=external_forge.url("app"))
    with pytest.raises(DomainError) as refused:
        image_tag_bump_request(actor=project.actor, repository=app, image="x", tag="1")
    assert refused.value.code == "not_infra"


def test_a_bump_queued_before_the_project_was_archived_pushes_nothing(project, external_forge,
                                                                      django_capture_on_commit_callbacks):
    from console.models import Project
    from console.services.image_bumps import image_bump_execute

    infra = external_forge.create("deploy", {"chart/values.yaml": VALUES.format(tag="1.0.0", worker="0.1")})
    with django_capture_on_commit_callbacks(execute=True):
        deploy = repository_register(
            actor=project.actor, project=project, name="deploy", external_url=external_forge.url("deploy"),
            is_infra=True, deploy_kind="helm", deploy_path="chart", username="ci", token=external_forge.token,
        )
    with django_capture_on_commit_callbacks(execute=False):
        bump = image_tag_bump_request(actor=project.actor, repository=deploy,
                                      image="registry.example.com/acme/shop-backend", tag="6.6.6")
    before = infra.sha()
    Project.objects.filter(pk=project.pk).update(status=Project.Status.ARCHIVED)
    image_bump_execute(run_id=bump.pk, task_id="t")
    bump.refresh_from_db()
    assert bump.status == RunStatus.FAILED and bump.error_code == "project_archived"
    assert git("rev-parse", "main", cwd=infra.bare).strip() == before


def test_a_deploy_revision_that_does_not_exist_is_reported_not_fatal(project, external_forge,
                                                                     django_capture_on_commit_callbacks):
    external_forge.create("deploy", {"chart/values.yaml": VALUES.format(tag="1.0.0", worker="0.1")})
    with django_capture_on_commit_callbacks(execute=True):
        deploy = repository_register(
            actor=project.actor, project=project, name="deploy", external_url=external_forge.url("deploy"),
            is_infra=True, deploy_kind="helm", deploy_path="chart", deploy_revision="v9",
        )
    run = SyncRun.objects.get(repository=deploy)
    assert run.status == RunStatus.SUCCEEDED
    assert run.image_scan == {"error": "deploy revision 'v9' does not exist in the repository",
                              "code": "revision_not_found"}
