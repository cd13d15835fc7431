"""POST /projects/{id}/lock/ and /unlock/ (platform admins), the `locked` field, and 409 project_locked on the
writes a locked project refuses: sync, provisioning, members, repositories, the CI trigger."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.models import AuditEvent, Role, SyncRun
from console.services.actors import Actor
from console.services.ci_tokens import ci_token_create
from tests.console.api.test_api import client_for, no_broker  # noqa: F401 - fixture
from tests.factories import make_member, make_project, make_repository, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    project = make_project(slug="shop")
    repository = make_repository(project, "app")
    owner = make_user("olivia")
    make_member(owner, project, Role.OWNER)
    return project, repository, owner, make_user("root", staff=True)


def lock(api, project, reason="incident 42"):
    return api.post(f"/api/v1/projects/{project.pk}/lock/", {"reason": reason}, format="json")


def test_a_platform_admin_locks_and_unlocks_and_the_project_says_so(world):
    project, _repository, _owner, admin = world
    api = client_for(admin)
    assert api.get(f"/api/v1/projects/{project.pk}/").json()["locked"] is None

    locked = lock(api, project)
    assert locked.status_code == 200, locked.content
    body = locked.json()["locked"]
    assert body["locked_by"] == "root" and body["reason"] == "incident 42" and body["locked_at"]
    assert api.get("/api/v1/projects/").json()["results"][0]["locked"]["reason"] == "incident 42"
    # A second lock keeps the first one.
    assert lock(api, project, "another reason").json()["locked"]["reason"] == "incident 42"

    unlocked = api.post(f"/api/v1/projects/{project.pk}/unlock/")
    assert unlocked.status_code == 200 and unlocked.json()["locked"] is None
    assert list(AuditEvent.objects.filter(action__startswith="project.").exclude(action="project.create")
                .order_by("pk").values_list("action", "interface")) == [("project.lock", "api"), ("project.unlock", "api")]


def test_a_lock_needs_a_reason(world):
    project, _repository, _owner, admin = world
    response = client_for(admin).post(f"/api/v1/projects/{project.pk}/lock/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "reason_required"
    assert "reason" in response.json()["detail"]


def test_only_platform_admins_lock_or_unlock(world):
    project, _repository, owner, admin = world
    api = client_for(owner)
    refused = lock(api, project)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    lock(client_for(admin), project)
    assert api.post(f"/api/v1/projects/{project.pk}/unlock/").status_code == 403
    assert APIClient().post(f"/api/v1/projects/{project.pk}/unlock/").status_code == 401
    assert client_for(make_user()).post(f"/api/v1/projects/{project.pk}/lock/").status_code == 404


def test_writes_on_a_locked_project_answer_409_and_reads_go_on(world):
    project, repository, owner, admin = world
    lock(client_for(admin), project)
    project.refresh_from_db()
    api = client_for(owner)
    expected = (f"project {project.full_slug} is locked by root since "
                f"{project.locked_at.isoformat(timespec='seconds')}: incident 42")

    writes = {
        "sync": api.post(f"/api/v1/repositories/{repository.pk}/sync/"),
        "provision": api.post(f"/api/v1/projects/{project.pk}/provision/"),
        "member add": api.post(f"/api/v1/projects/{project.pk}/members/", {"username": "root", "role": "reader"},
                               format="json"),
        "repository edit": api.patch(f"/api/v1/repositories/{repository.pk}/", {"deploy_path": "x"},
                                     format="json"),
        "repository removal": api.delete(f"/api/v1/repositories/{repository.pk}/"),
        "repository registration": api.post(f"/api/v1/projects/{project.pk}/repositories/",
                                            {"name": "other", "external_url": "https://git.example.com/a/b.git"},
                                            format="json"),
        "schedule": api.put(f"/api/v1/repositories/{repository.pk}/sync-schedule/",
                            {"enabled": True, "interval_seconds": 3600}, format="json"),
        "bump": api.post(f"/api/v1/repositories/{repository.pk}/image-tags/",
                         {"image": "registry.example.com/shop/app", "tag": "1.2.3"}, format="json"),
        "rename": api.patch(f"/api/v1/projects/{project.pk}/", {"name": "New"}, format="json"),
    }
    for what, response in writes.items():
        assert response.status_code == 409, (what, response.status_code, response.content)
        assert response.json() == {"detail": expected, "code": "project_locked"}, what
    assert not SyncRun.objects.exists()

    assert api.get(f"/api/v1/projects/{project.pk}/").status_code == 200
    assert api.get(f"/api/v1/repositories/{repository.pk}/").status_code == 200
    assert api.get(f"/api/v1/projects/{project.pk}/members/").status_code == 200
    assert api.get(f"/api/v1/projects/{project.pk}/notification-targets/").status_code == 200


def test_the_ci_trigger_is_refused_while_the_project_is_locked(world):
    project, repository, _owner, admin = world
    _token, secret = ci_token_create(actor=Actor.for_user(admin, "api"), repository=repository, name="gitlab-ci")
    lock(client_for(admin), project)
    pipeline = APIClient()
    pipeline.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = pipeline.post(f"/api/v1/repositories/{repository.pk}/sync/", {"pipeline_id": 7}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "project_locked"
    assert not SyncRun.objects.exists()
    client_for(admin).post(f"/api/v1/projects/{project.pk}/unlock/")
    assert pipeline.post(f"/api/v1/repositories/{repository.pk}/sync/", {}, format="json").status_code == 202


def test_the_schema_documents_lock_and_unlock(world):
    _project, _repository, _owner, admin = world
    schema = client_for(admin).get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/projects/{id}/lock/" in schema and "/api/v1/projects/{id}/unlock/" in schema
    assert "ProjectLockRequest" in schema
