"""A failed image scan (issue 7): the run says so, warnings do not claim what the scan could not see, and the
next sync scans again. Real infra repositories over loopback git, synced through the services."""

from __future__ import annotations

import html

import pytest
from django.db import connection, connections
from django.test import Client
from rest_framework.test import APIClient

from console.models import RunStatus, SyncRun, Trigger
from console.models.images import ImageInventoryEntry, ImageRelease, ImageTagChange
from console.models.runs import ImageScanStatus
from console.services.actors import Actor
from console.services.images import image_release_record, redeploy_warnings
from console.services.organizations import organization_create
from console.services.projects import project_create
from console.services.repositories import repository_register
from console.services.syncs import sync_request
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.factories import make_user
from tests.support.concurrency import skip_on_sqlite

pytestmark = pytest.mark.django_db

BACKEND = "registry.example.com/acme/shop-backend"
VALUES = 'image:\n  repository: registry.example.com/acme/shop-backend\n  tag: "{tag}"\n'
NOT_SET_ANYWHERE = "no infra repository of this project sets this image"


@pytest.fixture
def owner():
    return make_user("alice")


@pytest.fixture
def project(owner, forge_server, executed, django_capture_on_commit_callbacks):  # noqa: F811
    actor = Actor.for_user(owner, "api")
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    project.actor = actor
    return project


def register_deploy(project, external_forge, capture, *, execute=True, **fields):
    with capture(execute=execute):
        return repository_register(
            actor=project.actor, project=project, name="deploy", external_url=external_forge.url("deploy"),
            is_infra=True, deploy_kind="helm", deploy_path="chart", **fields,
        )


def sync(repository, capture) -> SyncRun:
    with capture(execute=True):
        run = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    run.refresh_from_db()
    return run


def ci_reports_build(repository, tag: str) -> None:
    image_release_record(repository=repository, image=BACKEND, tag=tag, commit_sha="",
                         source=ImageRelease.Source.CI_REPORT)


def test_a_failed_scan_is_visible_warns_honestly_and_the_next_sync_scans_again(
    owner, project, external_forge, django_capture_on_commit_callbacks
):
    infra = external_forge.create("deploy", {"chart/values.yaml": VALUES.format(tag="1.0.0")})
    # The team configured a release tag it has not pushed yet: the scan cannot run.
    deploy = register_deploy(project, external_forge, django_capture_on_commit_callbacks, deploy_revision="v9")
    failed = SyncRun.objects.get(repository=deploy)
    assert failed.status == RunStatus.SUCCEEDED, failed.error_message  # the mirror itself worked
    assert failed.image_scan_status == ImageScanStatus.FAILED
    reason = "deploy revision 'v9' does not exist in the repository"
    assert failed.image_scan == {"error": reason, "code": "revision_not_found"}
    deploy.refresh_from_db()
    assert deploy.images_scanned_sha == "" and not ImageInventoryEntry.objects.filter(repository=deploy).exists()

    ci_reports_build(deploy, "1.1.0")
    [warning] = redeploy_warnings(project)
    assert NOT_SET_ANYWHERE not in warning["message"]
    assert warning["message"] == (
        f"{BACKEND}: 1.1.0 is waiting, but where this image is set is not known yet: the image scan of deploy "
        f"failed ({reason}); it is retried on the next sync"
    )
    assert warning["bump_candidates"] == []
    assert [(s["repository"], s["state"], s["sync_run_id"]) for s in warning["image_scans"]] == [
        ("deploy", "failed", failed.pk)]

    # The API's run detail: a distinct step outcome with its reason, and the honest warning.
    api = APIClient()
    api.force_authenticate(owner)
    detail = api.get(f"/api/v1/syncs/{failed.pk}/").json()
    assert (detail["status"], detail["image_scan_status"], detail["image_scan"]["error"]) == (
        "succeeded", "failed", reason)
    assert detail["redeploy_warnings"][0]["message"] == warning["message"]
    assert api.get(f"/api/v1/repositories/{deploy.pk}/").json()["last_sync"]["image_scan_status"] == "failed"
    assert api.get(f"/api/v1/projects/{project.pk}/warnings/").json()[0]["image_scans"][0]["state"] == "failed"

    # The portal: the run row and the last-sync summary carry the failed step; the project page says why.
    portal = Client()
    portal.force_login(owner)
    repository_page = html.unescape(portal.get(f"/repositories/{deploy.pk}/").content.decode())
    assert '<span class="badge badge-failed">image scan failed</span>' in repository_page
    assert f"<strong>Image scan failed:</strong> {reason}. The next sync scans these commits again." in repository_page
    project_page = html.unescape(portal.get(f"/projects/{project.pk}/").content.decode())
    assert NOT_SET_ANYWHERE not in project_page
    assert "where this image is set is not known yet:" in project_page
    assert f'the image scan of <a href="/repositories/{deploy.pk}/">deploy</a> failed ({reason})' in project_page
    assert project_page.count('<span class="badge badge-failed">image scan failed</span>') == 2  # summary, row
    assert 'class="bump-inline"' not in project_page

    # The tag arrives: the next sync scans, records the images, and the warning offers the bump.
    infra.tag("v9")
    infra.publish(infra.bare)
    retried = sync(deploy, django_capture_on_commit_callbacks)
    assert (retried.status, retried.image_scan_status) == (RunStatus.SUCCEEDED, ImageScanStatus.SUCCEEDED)
    assert [(e.image, e.tag) for e in ImageInventoryEntry.objects.filter(repository=deploy)] == [(BACKEND, "1.0.0")]
    assert list(ImageTagChange.objects.filter(repository=deploy).values_list("new_tag", "sync_run")) == [
        ("1.0.0", retried.pk)]
    [warning] = redeploy_warnings(project)
    assert warning["image_scans"] == []
    assert [c["repository"] for c in warning["bump_candidates"]] == ["deploy"]
    assert "Argo CD will redeploy nothing until you bump it in deploy: chart/values.yaml image" in warning["message"]
    project_page = html.unescape(portal.get(f"/projects/{project.pk}/").content.decode())
    assert "Bump deploy chart/values.yaml image to 1.1.0" in project_page
    assert "image scan failed</span>" not in project_page.split('id="recent-syncs"')[0]  # the summary is the retry


def test_until_the_first_scan_ran_warnings_say_the_scan_is_pending(project, external_forge,
                                                                   django_capture_on_commit_callbacks):
    external_forge.create("deploy", {"chart/values.yaml": VALUES.format(tag="1.0.0")})
    deploy = register_deploy(project, external_forge, django_capture_on_commit_callbacks, execute=False)
    assert SyncRun.objects.get(repository=deploy).status == RunStatus.QUEUED

    ci_reports_build(deploy, "1.1.0")

    [warning] = redeploy_warnings(project)
    assert warning["message"] == (f"{BACKEND}: 1.1.0 is waiting, but where this image is set is not known yet: "
                                  "deploy has not been scanned for images yet")
    assert warning["image_scans"][0]["state"] == "pending"


def test_an_unexpected_scan_failure_fails_the_step_and_the_next_sync_without_new_commits_scans_again(
    project, external_forge, django_capture_on_commit_callbacks
):
    """A concurrent writer holds the inventory: the scan's write times out, as SQLite's did with 'locked'."""
    skip_on_sqlite()
    infra = external_forge.create("deploy", {"chart/values.yaml": VALUES.format(tag="1.0.0")})
    infra.commit("to 1.1.0", {"chart/values.yaml": VALUES.format(tag="1.1.0")})
    infra.publish(infra.bare)
    writer = connections.create_connection("default")
    try:
        with writer.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"LOCK TABLE {ImageInventoryEntry._meta.db_table} IN EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '500ms'")  # this test's transaction only
        deploy = register_deploy(project, external_forge, django_capture_on_commit_callbacks)
    finally:
        with writer.cursor() as cursor:
            cursor.execute("ROLLBACK")
        writer.close()

    failed = SyncRun.objects.get(repository=deploy)
    assert (failed.status, failed.image_scan_status) == (RunStatus.SUCCEEDED, ImageScanStatus.FAILED)
    assert failed.image_scan["code"] == "internal_error"
    assert "(OperationalError)" in failed.image_scan["error"]
    deploy.refresh_from_db()
    assert deploy.images_scanned_sha == ""
    assert not ImageTagChange.objects.filter(repository=deploy).exists()  # rolled back, not half-written

    retried = sync(deploy, django_capture_on_commit_callbacks)

    assert (retried.status, retried.image_scan_status) == (RunStatus.NO_CHANGE, ImageScanStatus.SUCCEEDED)
    assert retried.image_scan["changes"] == 2
    assert sorted(ImageTagChange.objects.filter(repository=deploy).values_list("new_tag", "sync_run")) == [
        ("1.0.0", retried.pk), ("1.1.0", retried.pk)]
    deploy.refresh_from_db()
    assert deploy.images_scanned_sha == infra.sha()
