"""Bumps by merge request against the GitLab double (REST for merge requests, git over HTTP for the branch):
the bump pushes a branch and opens the request, its URL and state are recorded, the follower sees it merged,
syncs the repository and marks the bump complete; a closed request is recorded and notified."""

from __future__ import annotations

import pytest

from console.models import BumpMergeRequest, NotificationDelivery, RunStatus
from console.services.image_bumps import image_tag_bump_request
from console.services.merge_requests import merge_request_settings_set, merge_requests_follow
from console.services.notifications import notification_target_create
from console.services.repositories import repository_register
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.console.services.test_images import VALUES, project  # noqa: F401 - fixtures
from tests.doubles.gitlab.fixtures import gitlab_double  # noqa: F401 - fixture
from tests.support.gitrepos import WorkRepo, git

pytestmark = pytest.mark.django_db

IMAGE = "registry.example.com/acme/shop-backend"
PATH = "team/deploy"


@pytest.fixture
def deploy(project, gitlab_double, tmp_path, django_capture_on_commit_callbacks):  # noqa: F811
    state = gitlab_double.state
    group = state.create_group(gitlab_double.admin, {"name": "team", "path": "team"})
    state.create_project(gitlab_double.admin, {"path": "deploy", "namespace_id": group.id})
    work = WorkRepo.create(tmp_path / "deploy-work")
    work.commit("initial", {"chart/values.yaml": VALUES.format(tag="1.0.0", worker="0.1")})
    # The initial content lands beside GitLab's pre-receive hook (an import, not a push it should judge).
    hook = state.repo_dir(PATH) / "hooks" / "pre-receive"
    script = hook.read_text()
    hook.unlink()
    work.publish(state.repo_dir(PATH))
    hook.write_text(script)
    hook.chmod(0o755)
    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(
            actor=project.actor, project=project, name="deploy", external_url=gitlab_double.clone_url(PATH),
            is_infra=True, deploy_kind="helm", deploy_path="chart", username="dso-console-bot",
            token=gitlab_double.bot_token)
    merge_request_settings_set(actor=project.actor, repository=repository, gitlab_url=gitlab_double.url,
                               project_path=PATH)
    return repository


def test_a_bump_opens_a_merge_request_and_completes_once_merged_and_synced(
        project, deploy, gitlab_double, django_capture_on_commit_callbacks):  # noqa: F811
    capture = django_capture_on_commit_callbacks
    repo = gitlab_double.repo_dir(PATH)
    with capture(execute=True):
        bump = image_tag_bump_request(actor=project.actor, repository=deploy, image=IMAGE, tag="1.4.0",
                                      reason="release 1.4.0")
    bump.refresh_from_db()
    assert bump.status == RunStatus.SUCCEEDED, bump.error_message
    request = BumpMergeRequest.objects.get(bump=bump)
    assert (request.state, request.iid, request.target_branch) == ("opened", 1, "main")
    assert request.url == f"{gitlab_double.url}/{PATH}/-/merge_requests/1"
    # The protected branch did not move; the bump waits on its own branch.
    assert 'tag: "1.0.0"' in git("show", "main:chart/values.yaml", cwd=repo)
    assert 'tag: "1.4.0"' in git("show", f"{request.source_branch}:chart/values.yaml", cwd=repo)
    opened = gitlab_double.state.merge_request(gitlab_double.project(PATH), 1)
    assert opened["title"] == f"Bump {IMAGE} 1.0.0 -> 1.4.0" and "release 1.4.0" in opened["description"]

    with capture(execute=True):
        assert merge_requests_follow()["merged"] == 0  # still open
    merged_sha = gitlab_double.state.merge(PATH, 1)
    with capture(execute=True):
        report = merge_requests_follow()
    assert report["merged"] == 1
    request.refresh_from_db()
    assert request.state == "merged" and request.merge_commit_sha == merged_sha
    assert request.sync_run.status == RunStatus.SUCCEEDED and request.sync_run.head_sha == merged_sha
    assert merge_requests_follow()["completed"] == 1
    request.refresh_from_db()
    assert request.completed_at == request.sync_run.finished_at


def test_a_closed_merge_request_is_recorded_and_notified(project, deploy, gitlab_double,
                                                         django_capture_on_commit_callbacks):  # noqa: F811
    notification_target_create(actor=project.actor, project=project, kind="email", emails=["ops@example.com"],
                               events=["bump_failed"])
    with django_capture_on_commit_callbacks(execute=True):
        image_tag_bump_request(actor=project.actor, repository=deploy, image=IMAGE, tag="2.0.0")
    gitlab_double.state.close_merge_request(PATH, 1)
    assert merge_requests_follow()["closed"] == 1
    assert BumpMergeRequest.objects.get().state == "closed"
    assert NotificationDelivery.objects.get().payload["code"] == "merge_request_closed"


def test_the_api_sets_merge_requests_and_shows_them_on_the_bump(project, deploy, gitlab_double,
                                                                 django_capture_on_commit_callbacks):  # noqa: F811
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(project.actor.user)
    answer = client.put(f"/api/v1/repositories/{deploy.pk}/merge-request-settings/",
                        {"gitlab_url": gitlab_double.url, "project_path": PATH}, format="json")
    assert answer.status_code == 200, answer.content
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(f"/api/v1/repositories/{deploy.pk}/image-tags/", {"image": IMAGE, "tag": "3.0.0"},
                             format="json").json()
    bump = client.get(f"/api/v1/image-bumps/{queued['id']}/").json()
    assert bump["merge_request"]["state"] == "opened"
    assert bump["merge_request"]["url"].endswith("/-/merge_requests/1")
    ledger = client.get(f"/api/v1/images/{IMAGE}/tags/3.0.0/").json()
    assert [s["merge_request"]["state"] for s in ledger["steps"] if s["step"] == "bump"] == ["opened"]
