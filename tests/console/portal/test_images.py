"""Image tags in the portal: redeploy warnings with bump buttons, an infra repository's images, tag history
and bumps, and image scan results on sync rows."""

from __future__ import annotations

import datetime as dt
import html
import time

import pytest
from django.utils import timezone

from console.models import Role, RunStatus, SyncRun, Trigger
from console.models.images import ImageBump, ImageInventoryEntry, ImageRelease, ImageTagChange
from console.services.actors import Actor
from console.services.repositories import repository_register
from console.services.syncs import sync_request
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.factories import make_member, make_repository, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db

BACKEND = "registry.example.com/acme/shop-backend"
WORKER = "registry.example.com/acme/shop-worker"


@pytest.fixture(autouse=True)
def enqueued_bumps(monkeypatch) -> list[int]:
    """Like the portal conftest does for syncs: record the bump ids instead of reaching the broker."""
    recorded: list[int] = []
    stand_in(monkeypatch, "image_bump", recorded.append)
    return recorded


@pytest.fixture
def deploy(owner_project):
    """An infra repository with a write token whose last scan found two images."""
    repository = make_repository(owner_project, "deploy-helm", is_infra=True, deploy_kind="helm",
                                 deploy_path="chart", helm_value_files=["values.yaml"], token="ext-write-token")
    for image, tag, location in ((BACKEND, "1.3.0", "image"), (WORKER, "0.2", "worker.image")):
        ImageInventoryEntry.objects.create(repository=repository, image=image, tag=tag, file="chart/values.yaml",
                                           location=location, source="helm_values", commit_sha="ab" * 20)
    return repository


@pytest.fixture
def backend(owner_project):
    return make_repository(owner_project, "backend", image_name=BACKEND)


def release(project, repository, *, tag="1.4.0") -> ImageRelease:
    return ImageRelease.objects.create(project=project, repository=repository, image=BACKEND, tag=tag,
                                       commit_sha="cd" * 20, source=ImageRelease.Source.CI_REPORT)


def bump_from_warning(client, repository, **fields):
    data = {"image": BACKEND, "file": "chart/values.yaml", "location": "image", "tag": "1.4.0", **fields}
    return client.post(f"/repositories/{repository.pk}/images/bump/",
                       {"next": f"/projects/{repository.project_id}/", **{f"bump-{k}": v for k, v in data.items()}})


def test_project_page_warns_about_a_waiting_release_and_offers_the_bump(client_for, user, owner_project, deploy,
                                                                       backend):
    release(owner_project, backend)

    page = html.unescape(client_for(user).get(f"/projects/{owner_project.pk}/").content.decode())

    assert 'id="redeploy-warnings"' in page
    assert f"<code>{BACKEND}</code>:" in page and "1.4.0</strong> is waiting" in page
    assert "Argo CD will redeploy nothing" in page
    assert "now 1.3.0" in page
    assert f'action="/repositories/{deploy.pk}/images/bump/"' in page
    assert "Bump deploy-helm chart/values.yaml image to 1.4.0" in page
    # The application repository shows the image it builds.
    assert f"<code>{BACKEND}</code>" in page


def test_no_warning_panel_when_nothing_waits_and_no_bump_button_for_readers(client_for, user, owner_project,
                                                                             deploy, backend):
    reader = make_user("rita")
    make_member(reader, owner_project, Role.READER)
    quiet = client_for(user).get(f"/projects/{owner_project.pk}/").content.decode()
    release(owner_project, backend)

    seen_by_reader = client_for(reader).get(f"/projects/{owner_project.pk}/").content.decode()

    assert "redeploy-warnings" not in quiet
    assert "is waiting" in seen_by_reader
    assert "/images/bump/" not in seen_by_reader


def test_a_release_without_a_tag_asks_for_one(client_for, user, owner_project, deploy, backend):
    release(owner_project, backend, tag="")

    page = client_for(user).get(f"/projects/{owner_project.pk}/").content.decode()

    assert f"commit {'cd' * 6}</strong> is waiting" in page
    assert 'name="bump-tag" required' in page


def test_bumping_from_the_warning_queues_a_portal_bump(client_for, user, owner_project, deploy, backend,
                                                       enqueued_bumps, django_capture_on_commit_callbacks):
    release(owner_project, backend)
    client = client_for(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = bump_from_warning(client, deploy)

    bump = ImageBump.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/projects/{owner_project.pk}/"
    assert (bump.repository, bump.image, bump.tag, bump.file, bump.location) == (
        deploy, BACKEND, "1.4.0", "chart/values.yaml", "image")
    assert (bump.trigger, bump.actor, bump.status) == (Trigger.PORTAL, user, RunStatus.QUEUED)
    assert enqueued_bumps == [bump.pk]
    page = client.get(response["Location"]).content.decode()
    assert f"Bump #{bump.pk} queued" in page


def test_readers_may_not_bump(client_for, owner_project, deploy, enqueued_bumps):
    reader = make_user("rita")
    make_member(reader, owner_project, Role.READER)

    response = bump_from_warning(client_for(reader), deploy)

    assert response.status_code == 403
    assert not ImageBump.objects.exists() and enqueued_bumps == []


def test_developers_may_bump(client_for, developer_project, enqueued_bumps):
    dave, project = developer_project
    repository = make_repository(project, "deploy", is_infra=True, deploy_kind="helm", token="t")

    response = bump_from_warning(client_for(dave), repository)

    assert response.status_code == 302
    assert ImageBump.objects.get().actor == dave


def test_a_refused_bump_shows_the_reason_on_the_repository_page(client_for, user, owner_project, deploy):
    missing_tag = bump_from_warning(client_for(user), deploy, tag="")
    deploy.token = ""
    deploy.save()
    no_token = bump_from_warning(client_for(user), deploy)

    assert missing_tag.status_code == 200
    assert "is not a valid image tag" in missing_tag.content.decode()
    # The place it came from stays selected.
    assert missing_tag.context["bump_form"]["target"].value() == f'["{BACKEND}", "chart/values.yaml", "image"]'
    assert "write token" in no_token.content.decode()
    assert not ImageBump.objects.exists()


def test_repository_page_shows_inventory_history_and_bumps(client_for, user, owner_project, deploy):
    run = SyncRun.objects.create(repository=deploy, trigger=Trigger.PORTAL, status=RunStatus.SUCCEEDED)
    bump = ImageBump.objects.create(repository=deploy, image=BACKEND, tag="1.3.0", old_tag="1.2.0",
                                    trigger=Trigger.PORTAL, status=RunStatus.SUCCEEDED, commit_sha="ef" * 20,
                                    sync_run=run, reason="release 1.3.0")
    ImageBump.objects.create(repository=deploy, image=WORKER, tag="0.3", trigger=Trigger.API,
                             status=RunStatus.FAILED, error_code="invalid_input",
                             error_message="image is set in several places")
    base = timezone.now() - dt.timedelta(days=1)
    for index, (old, new, by_console) in enumerate((("1.1.0", "1.2.0", False), ("1.2.0", "1.3.0", True))):
        ImageTagChange.objects.create(
            repository=deploy, sync_run=run, bump=bump if by_console else None, file="chart/values.yaml",
            location="image", image=BACKEND, kind="changed", old_tag=old, new_tag=new, commit_sha=f"{index}" * 40,
            commit_author="Carol", committed_at=base + dt.timedelta(hours=index), commit_subject=f"backend {new}",
        )

    response = client_for(user).get(f"/repositories/{deploy.pk}/")

    page = response.content.decode()
    assert f"<code>{WORKER}</code>" in page and "<code>0.2</code>" in page and "worker.image" in page
    assert "<code>1.2.0</code> → <code>1.3.0</code>" in page and "backend 1.3.0" in page and "Carol" in page
    assert page.count("by DSO Console") == 1
    assert f'href="#sync-run-{run.pk}"' in page
    assert "release 1.3.0" in page and "image is set in several places" in page
    assert [c.new_tag for c in response.context["tag_changes"].object_list] == ["1.3.0", "1.2.0"]
    assert 'name="bump-target"' in page


def test_the_repository_bump_form_targets_an_inventory_entry(client_for, user, owner_project, deploy,
                                                             enqueued_bumps, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).post(f"/repositories/{deploy.pk}/images/bump/", {
            "bump-target": f'["{WORKER}", "chart/values.yaml", "worker.image"]', "bump-tag": "0.3",
            "bump-reason": "worker fix",
        })

    bump = ImageBump.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/repositories/{deploy.pk}/#image-bumps"
    assert (bump.image, bump.location, bump.tag, bump.reason, bump.trigger) == (
        WORKER, "worker.image", "0.3", "worker fix", "portal")
    assert enqueued_bumps == [bump.pk]


def test_app_repository_page_has_no_image_sections(client_for, user, backend):
    page = client_for(user).get(f"/repositories/{backend.pk}/").content.decode()

    assert "Image tag history" not in page and 'id="images"' not in page
    assert f"<code>{BACKEND}</code>" in page


def test_sync_rows_show_image_scan_results(client_for, user, deploy):
    SyncRun.objects.create(repository=deploy, trigger=Trigger.API, status=RunStatus.SUCCEEDED, image_scan={
        "commit": "ab" * 20, "commits_scanned": 3, "changes": 2, "images": 2,
        "problems": [{"file": "chart/values-broken.yaml", "commit": "ab" * 20, "reason": "not valid YAML"}],
    })
    SyncRun.objects.create(repository=deploy, trigger=Trigger.API, status=RunStatus.SUCCEEDED,
                           image_scan={"error": "deploy revision 'v9' does not exist", "code": "revision_not_found"},
                           image_scan_status="failed")

    page = html.unescape(client_for(user).get(f"/repositories/{deploy.pk}/").content.decode())

    assert "2 image tag changes" in page
    assert "<code>chart/values-broken.yaml</code>: not valid YAML" in page
    assert ("<strong>Image scan failed:</strong> deploy revision 'v9' does not exist. "
            "The next sync scans these commits again.") in page
    assert '<span class="badge badge-failed">image scan failed</span>' in page


def test_register_form_accepts_the_image_name(client_for, user, owner_project):
    client_for(user).post(f"/projects/{owner_project.pk}/repositories/", {
        "repo-name": "backend", "repo-external_url": "https://git.example.com/acme/backend.git",
        "repo-image_name": BACKEND, "repo-deploy_path": ".", "repo-deploy_revision": "HEAD",
    })

    assert owner_project.repositories.get(name="backend").image_name == BACKEND


VALUES = """image:
  repository: registry.example.com/acme/shop-backend
  tag: "{tag}"
"""


def test_bump_from_the_project_page_end_to_end(client_for, user, owner_project, forge_server, external_forge,
                                               executed, monkeypatch, django_capture_on_commit_callbacks):  # noqa: F811
    """Real repositories: new app commits warn, the warning's button bumps the source, the sync records it."""
    # Git dates have one-second resolution: date the history an hour back so the bump is clearly after it.
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{int(time.time()) - 3600} +0000")
    actor = Actor.for_user(user, "portal")
    external_forge.create("deploy", {"chart/values.yaml": VALUES.format(tag="1.0.0")})
    app = external_forge.create("backend", {"app.py": "print(1)\n"})
    with django_capture_on_commit_callbacks(execute=True):
        deploy = repository_register(actor=actor, project=owner_project, name="deploy",
                                     external_url=external_forge.url("deploy"), is_infra=True, deploy_kind="helm",
                                     deploy_path="chart", username="ci", token=external_forge.token)
        backend = repository_register(actor=actor, project=owner_project, name="backend",
                                      external_url=external_forge.url("backend"), image_name=BACKEND)
    app.commit("feature", {"app.py": "print(2)\n"})
    app.publish(app.bare)
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    with django_capture_on_commit_callbacks(execute=True):
        sync_request(actor=actor, repository=backend, trigger=Trigger.API)
    client = client_for(user)

    warned = client.get(f"/projects/{owner_project.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/repositories/{deploy.pk}/images/bump/", {
            "next": f"/projects/{owner_project.pk}/", "bump-image": BACKEND, "bump-file": "chart/values.yaml",
            "bump-location": "image", "bump-tag": "1.4.0",
        })
    after = client.get(f"/projects/{owner_project.pk}/").content.decode()
    repository_page = client.get(f"/repositories/{deploy.pk}/").content.decode()

    assert "is waiting" in warned and "Bump deploy chart/values.yaml image to" in warned
    bump = ImageBump.objects.get()
    assert bump.status == RunStatus.SUCCEEDED, bump.error_message
    assert (bump.trigger, bump.old_tag) == ("portal", "1.0.0")
    assert "redeploy-warnings" not in after
    assert "by DSO Console" in repository_page and "<code>1.0.0</code> → <code>1.4.0</code>" in repository_page


def test_tag_history_reads_along_the_deploy_branch_or_commit_by_commit(client_for, user, deploy):
    run = SyncRun.objects.create(repository=deploy, trigger=Trigger.API, status=RunStatus.SUCCEEDED, image_scan={
        "commit": "ab" * 20, "commits_scanned": 2, "changes": 3, "images": 2,
        "force_push": {"removed_commits": 1, "rewritten": 1}, "problems": [],
    })
    at = timezone.now() - dt.timedelta(hours=1)
    common = {"repository": deploy, "sync_run": run, "file": "chart/values.yaml", "location": "image",
              "committed_at": at, "kind": "changed"}
    ImageTagChange.objects.create(**common, image=BACKEND, old_tag="1.0", new_tag="2.0", commit_sha="a" * 40,
                                  commit_subject="try 2.0 on feature", effective_sha="m" * 40,
                                  effective_subject="Merge feature", on_deploy_line=False, sequence=1)
    ImageTagChange.objects.create(**common, image="quay.io/acme/shop-backend", old_image=BACKEND, old_tag="2.0",
                                  new_tag="3.0", commit_sha="b" * 40, commit_subject="move to quay",
                                  effective_sha="m" * 40, effective_subject="Merge feature", sequence=2,
                                  rewritten_at=timezone.now())
    ImageTagChange.objects.create(**common, image=BACKEND, old_image="quay.io/acme/shop-backend", old_tag="3.0",
                                  new_tag="1.0", commit_sha="c" * 40, effective_sha="c" * 40, own_change=False,
                                  cause="force_push", commit_subject="force-push replaced mmmm with cccc",
                                  sequence=3)

    client = client_for(user)
    along = html.unescape(client.get(f"/repositories/{deploy.pk}/").content.decode())
    commits = html.unescape(client.get(f"/repositories/{deploy.pk}/?along=commits").content.decode())

    assert "try 2.0 on feature" not in along and "try 2.0 on feature" in commits
    assert f"<code>{BACKEND}</code> → <code>quay.io/acme/shop-backend</code>" in along
    assert "rewritten away by a force-push" in along and "Merge feature" in along
    assert "force-push replaced mmmm with cccc" in along and "force-push replaced" not in commits
    assert "Force-push: 1 commit removed from the deploy revision; 1 recorded change marked rewritten" in along
    assert '<a href="?along=commits#image-history">Commit by commit</a>' in along
