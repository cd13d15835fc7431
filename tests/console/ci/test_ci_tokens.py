"""Per-repository CI tokens: created by maintainers, stored hashed, scoped to one repository and one endpoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from console.models import AuditEvent, CiToken, Role, SyncRun, Trigger
from console.services.actors import Actor
from console.services.ci_tokens import ci_token_authenticate, ci_token_create, ci_token_revoke
from console.services.errors import PermissionDenied
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db


def sync_url(repository) -> str:
    return f"/api/v1/repositories/{repository.pk}/sync/"


def create(repository, user, name="gitlab-ci", **fields):
    return ci_token_create(actor=Actor.for_user(user, "api"), repository=repository, name=name, **fields)


def test_token_is_shown_once_and_stored_only_as_a_hash(repo_a, maintainer, api_for):
    response = api_for(maintainer).post(f"/api/v1/repositories/{repo_a.pk}/ci-tokens/", {"name": "gitlab-ci"},
                                        format="json")
    assert response.status_code == 201, response.content
    secret = response.json()["secret"]
    assert secret.startswith("dsoci_") and response.json()["prefix"] == secret[:12]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM console_citoken")
        rows = cursor.fetchall()
    assert len(rows) == 1
    assert not any(secret in str(value) for value in rows[0])
    assert secret[6:] not in str(rows)  # not even the random part
    listed = api_for(maintainer).get(f"/api/v1/repositories/{repo_a.pk}/ci-tokens/")
    assert listed.status_code == 200
    assert secret not in listed.content.decode()
    assert "secret" not in listed.json()[0] and "secret_hash" not in listed.json()[0]
    event = AuditEvent.objects.get(action="ci_token.create")
    assert secret not in str(event.after)


def test_only_maintainers_manage_tokens(repo_a, api_for):
    developer = make_user()
    make_member(developer, repo_a.project, Role.DEVELOPER)
    with pytest.raises(PermissionDenied):
        create(repo_a, developer)
    assert api_for(developer).get(f"/api/v1/repositories/{repo_a.pk}/ci-tokens/").status_code == 403
    assert api_for(developer).post(f"/api/v1/repositories/{repo_a.pk}/ci-tokens/", {"name": "x"}).status_code == 403
    stranger = make_user()
    assert api_for(stranger).get(f"/api/v1/repositories/{repo_a.pk}/ci-tokens/").status_code == 404


def test_token_syncs_its_repository_and_records_the_pipeline(repo_a, maintainer, api_for, enqueued,
                                                             django_capture_on_commit_callbacks):
    token, secret = create(repo_a, maintainer)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(bearer=secret).post(sync_url(repo_a), {
            "pipeline_id": 1234, "job_url": "https://gitlab.example.test/acme/app/-/jobs/9", "commit_sha": "abcdef1",
        }, format="json")
    assert response.status_code == 202, response.content
    run = SyncRun.objects.get(pk=response.json()["id"])
    assert run.trigger == Trigger.CI and run.actor is None
    assert run.trigger_detail["by"] == "ci-token:gitlab-ci"
    assert run.trigger_detail["interface"] == "ci"
    assert run.trigger_detail["ci_token"] == "gitlab-ci"
    assert run.trigger_detail["pipeline_id"] == "1234"
    assert run.trigger_detail["job_url"] == "https://gitlab.example.test/acme/app/-/jobs/9"
    assert run.trigger_detail["commit_sha"] == "abcdef1"
    assert enqueued == [run.pk]
    token.refresh_from_db()
    assert token.last_used_at is not None

    # A second trigger joins the queued run, and is still recorded on it.
    again = api_for(bearer=secret).post(sync_url(repo_a), {"pipeline_id": "1235"}, format="json")
    assert again.status_code == 202 and again.json()["id"] == run.pk
    run.refresh_from_db()
    assert run.joined_requests == 1
    assert run.trigger_detail["joined"][0]["pipeline_id"] == "1235"


def test_token_of_repository_a_cannot_sync_repository_b(repo_a, repo_b, maintainer, api_for, enqueued):
    _, secret = create(repo_a, maintainer, scopes=["sync", "report_build", "bump"])
    ci = api_for(bearer=secret)
    for action in ["sync/", "images/built/", "image-tags/"]:
        body = {"image": "registry.example.test/x", "tag": "1"}
        other = ci.post(f"/api/v1/repositories/{repo_b.pk}/{action}", body, format="json")
        missing = ci.post(f"/api/v1/repositories/999999/{action}", body, format="json")
        assert other.status_code == missing.status_code == 403, action
        assert other.json()["code"] == missing.json()["code"] == "ci_token_wrong_repository"
        # A repository that does not exist answers the same: no probing of ids, no names.
        assert other.json()["detail"].replace(f"#{repo_b.pk}", "#N") == missing.json()["detail"].replace("#999999", "#N")
        assert f"#{repo_b.pk}" in other.json()["detail"]
        for name in [repo_a.name, repo_b.name, str(repo_a.project), str(repo_b.project)]:
            assert name not in other.json()["detail"]
    assert "may not sync repository" in ci.post(sync_url(repo_b)).json()["detail"]
    assert not SyncRun.objects.exists() and enqueued == []


def test_revoked_and_expired_tokens_are_refused(repo_a, maintainer, api_for, enqueued):
    revoked, revoked_secret = create(repo_a, maintainer, name="old")
    ci_token_revoke(actor=Actor.for_user(maintainer, "api"), token=revoked)
    expiring, expired_secret = create(repo_a, maintainer, name="short", expires_at=timezone.now() + timedelta(hours=1))
    CiToken.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    for secret, reason in [(revoked_secret, "revoked"), (expired_secret, "expired"),
                           ("dsoci_" + "x" * 43, "unknown"), ("not-a-token", "neither")]:
        response = api_for(bearer=secret).post(sync_url(repo_a))
        assert response.status_code == 401, (reason, response.content)
        assert reason in response.json()["detail"]
        assert response["WWW-Authenticate"].startswith("Token")
    assert ci_token_authenticate(revoked_secret) is None
    assert not SyncRun.objects.exists() and enqueued == []
    assert AuditEvent.objects.filter(action="ci_token.revoke").count() == 1


def test_revoking_through_the_api(repo_a, maintainer, api_for):
    token, secret = create(repo_a, maintainer)
    response = api_for(maintainer).post(f"/api/v1/repositories/{repo_a.pk}/ci-tokens/{token.pk}/revoke/")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert api_for(maintainer).post(f"/api/v1/repositories/{repo_a.pk}/ci-tokens/{token.pk}/revoke/").status_code == 409
    second, _ = create(repo_a, maintainer, name="second")
    assert api_for(maintainer).delete(f"/api/v1/repositories/{repo_a.pk}/ci-tokens/{second.pk}/").status_code == 204
    assert ci_token_authenticate(secret) is None


def test_a_ci_principal_can_use_no_other_endpoint(repo_a, maintainer, api_for):
    _, secret = create(repo_a, maintainer)
    ci = api_for(bearer=secret)
    for url in [f"/api/v1/repositories/{repo_a.pk}/", "/api/v1/projects/",
                "/api/v1/organizations/", "/api/v1/syncs/", f"/api/v1/repositories/{repo_a.pk}/syncs/",
                f"/api/v1/repositories/{repo_a.pk}/ci-tokens/"]:
        assert ci.get(url).status_code == 403, url
    assert ci.get(f"/api/v1/repositories/{repo_a.pk}/ci-tokens/").status_code == 403
    assert ci.post(f"/api/v1/repositories/{repo_a.pk}/ci-tokens/", {"name": "more"}).status_code == 403
    assert ci.post(f"/api/v1/projects/{repo_a.project.pk}/provision/").status_code == 403
    assert ci.patch(f"/api/v1/repositories/{repo_a.pk}/", {"deploy_path": "x"}).status_code == 403
    assert ci.post(f"/api/v1/repositories/{repo_a.pk}/webhook-secret/").status_code == 403


def test_reported_fields_are_validated_and_bounded(repo_a, maintainer, api_for, enqueued):
    _, secret = create(repo_a, maintainer)
    ci = api_for(bearer=secret)
    assert ci.post(sync_url(repo_a), {"pipeline_id": "12; rm -rf"}, format="json").status_code == 400
    assert ci.post(sync_url(repo_a), {"job_url": "javascript:alert(1)"}, format="json").status_code == 400
    assert ci.post(sync_url(repo_a), {"job_url": "https://x.test/" + "a" * 600}, format="json").status_code == 400
    assert ci.post(sync_url(repo_a), {"commit_sha": "zz"}, format="json").status_code == 400
    assert not SyncRun.objects.exists()


def test_users_still_sync_with_their_own_credentials(repo_a, maintainer, api_for, enqueued):
    response = api_for(maintainer).post(sync_url(repo_a))
    assert response.status_code == 202
    assert SyncRun.objects.get().trigger == Trigger.API
    assert api_for().post(sync_url(repo_a)).status_code == 401


def test_archived_projects_take_no_new_ci_credentials(db):
    from console.models import Project
    from console.services.actors import Actor
    from console.services.ci_tokens import ci_token_create
    from console.services.errors import Conflict
    from console.services.webhooks import repository_webhook_secret_rotate
    from tests.factories import make_project, make_repository, make_user

    admin = Actor.for_user(make_user(staff=True), "api")
    repository = make_repository(make_project(status=Project.Status.ARCHIVED))
    with pytest.raises(Conflict):
        ci_token_create(actor=admin, repository=repository, name="late")
    with pytest.raises(Conflict):
        repository_webhook_secret_rotate(actor=admin, repository=repository)
