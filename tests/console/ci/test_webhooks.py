"""GitLab and GitHub push webhooks: the repository's secret authenticates, a push syncs, nothing else does."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.db import connection
from django.test import Client

from console.models import AuditEvent, RunStatus, SyncRun, Trigger
from console.services.actors import Actor
from console.services.webhooks import repository_webhook_secret_rotate
from tests.factories import make_repository, make_user
from tests.support.gitrepos import refs

pytestmark = pytest.mark.django_db

GITLAB_URL = "https://gitlab.example.test/acme/shop-backend.git"
GITHUB_URL = "https://github.com/acme/shop-frontend.git"


def gitlab_push(url=GITLAB_URL, **extra) -> dict:
    web = url.removesuffix(".git")
    return {"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": "a" * 40, "user_username": "alice",
            "project": {"git_http_url": url, "web_url": web, "path_with_namespace": web.split("/", 3)[3]}, **extra}


def github_push(url=GITHUB_URL) -> dict:
    web = url.removesuffix(".git")
    return {"ref": "refs/heads/main", "after": "b" * 40, "pusher": {"name": "bob"},
            "repository": {"clone_url": url, "html_url": web, "full_name": web.split("/", 3)[3]}}


def post_gitlab(payload, token, event="Push Hook", **headers):
    headers = {"HTTP_X_GITLAB_EVENT": event, **headers}
    if token is not None:
        headers["HTTP_X_GITLAB_TOKEN"] = token
    return Client().post("/api/v1/hooks/gitlab/", json.dumps(payload), content_type="application/json", **headers)


def post_github(payload, secret, event="push", body: bytes | None = None, delivery="d-1"):
    body = body if body is not None else json.dumps(payload).encode()
    headers = {"HTTP_X_GITHUB_EVENT": event, "HTTP_X_GITHUB_DELIVERY": delivery}
    if secret is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return Client().post("/api/v1/hooks/github/", body, content_type="application/json", **headers)


@pytest.fixture
def staff():
    return make_user("root", staff=True)


def with_secret(url, staff):
    repository = make_repository(external_url=url)
    return repository, repository_webhook_secret_rotate(actor=Actor.for_user(staff, "api"), repository=repository)


def test_the_webhook_secret_is_shown_once_and_stored_encrypted(staff, api_for):
    repository = make_repository(external_url=GITLAB_URL)
    response = api_for(staff).post(f"/api/v1/repositories/{repository.pk}/webhook-secret/")
    assert response.status_code == 201
    secret = response.json()["webhook_secret"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret FROM console_repository WHERE id = %s", [repository.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("fernet:") and secret not in stored
    assert secret not in api_for(staff).get(f"/api/v1/repositories/{repository.pk}/").content.decode()
    settings_body = api_for(staff).get(f"/api/v1/repositories/{repository.pk}/ci-settings/").json()
    assert settings_body["webhook_secret_is_set"] is True
    assert all(secret not in str(e.after) + str(e.before) for e in AuditEvent.objects.all())
    developer = make_user()
    from tests.factories import make_member

    make_member(developer, repository.project, "developer")
    assert api_for(developer).post(f"/api/v1/repositories/{repository.pk}/webhook-secret/").status_code == 403


def test_gitlab_bad_or_missing_token_is_401_and_nothing_happens(staff, enqueued):
    _, secret = with_secret(GITLAB_URL, staff)
    events_before = AuditEvent.objects.count()
    assert post_gitlab(gitlab_push(), secret + "x").status_code == 401
    assert post_gitlab(gitlab_push(), None).status_code == 401
    assert post_gitlab(gitlab_push(), "").status_code == 401
    # The right secret for a repository the payload does not name.
    assert post_gitlab(gitlab_push("https://gitlab.example.test/acme/other.git"), secret).status_code == 401
    with_secret("https://gitlab.example.test/acme/other.git", staff)
    assert post_gitlab(gitlab_push("https://gitlab.example.test/acme/other.git"), secret).status_code == 401
    assert not SyncRun.objects.exists() and enqueued == []
    assert AuditEvent.objects.count() == events_before + 1  # only the second secret's rotation


def test_github_bad_signature_is_401_and_nothing_happens(staff, enqueued):
    _, secret = with_secret(GITHUB_URL, staff)
    assert post_github(github_push(), "wrong-secret").status_code == 401
    assert post_github(github_push(), None).status_code == 401
    # A signature over other bytes than the ones sent.
    body = json.dumps(github_push()).encode()
    signed_other = "sha256=" + hmac.new(secret.encode(), body + b" ", hashlib.sha256).hexdigest()
    response = Client().post("/api/v1/hooks/github/", body, content_type="application/json",
                             HTTP_X_GITHUB_EVENT="push", HTTP_X_HUB_SIGNATURE_256=signed_other)
    assert response.status_code == 401
    assert post_github(None, secret, body=b"not json").status_code == 401
    assert not SyncRun.objects.exists() and enqueued == []


def test_good_gitlab_push_queues_a_webhook_sync(staff, enqueued, django_capture_on_commit_callbacks):
    repository, secret = with_secret(GITLAB_URL, staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_gitlab(gitlab_push(), secret, HTTP_X_GITLAB_EVENT_UUID="uuid-1")
    assert response.status_code == 202, response.content
    run = SyncRun.objects.get(pk=response.json()["run"])
    assert run.repository_id == repository.pk and run.trigger == Trigger.WEBHOOK
    assert run.trigger_detail["by"] == "gitlab webhook"
    assert run.trigger_detail["ref"] == "refs/heads/main" and run.trigger_detail["delivery"] == "uuid-1"
    assert enqueued == [run.pk]
    # A tag push while it is queued joins it.
    response = post_gitlab(gitlab_push(ref="refs/tags/v1"), secret, event="Tag Push Hook")
    assert response.status_code == 202 and response.json()["run"] == run.pk
    run.refresh_from_db()
    assert run.joined_requests == 1 and run.trigger_detail["joined"][0]["ref"] == "refs/tags/v1"


def test_good_github_push_queues_a_webhook_sync_and_ping_answers(staff, enqueued):
    repository, secret = with_secret(GITHUB_URL, staff)
    ping = post_github({"zen": "hi", "repository": github_push()["repository"]}, secret, event="ping")
    assert ping.status_code == 200 and ping.json()["detail"] == "pong"
    assert not SyncRun.objects.exists()
    response = post_github(github_push(), secret)
    assert response.status_code == 202, response.content
    run = SyncRun.objects.get(pk=response.json()["run"])
    assert run.repository_id == repository.pk
    assert run.trigger == Trigger.WEBHOOK and run.trigger_detail["pushed_by"] == "bob"


def test_unrelated_events_are_acknowledged_and_ignored(staff, enqueued):
    _, gitlab_secret = with_secret(GITLAB_URL, staff)
    _, github_secret = with_secret(GITHUB_URL, staff)
    response = post_gitlab(gitlab_push(object_kind="issue"), gitlab_secret, event="Issue Hook")
    assert response.status_code == 202 and response.json()["detail"] == "ignored"
    response = post_github(github_push(), github_secret, event="issues")
    assert response.status_code == 202 and response.json()["detail"] == "ignored"
    assert not SyncRun.objects.exists() and enqueued == []


def test_oversized_payloads_are_refused(staff, settings, enqueued):
    _, secret = with_secret(GITLAB_URL, staff)
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    response = post_gitlab(gitlab_push(padding="x" * 2048), secret)
    assert response.status_code == 413
    assert not SyncRun.objects.exists()


def test_a_webhook_push_mirrors_the_new_commit(mirrored, staff, settings, django_capture_on_commit_callbacks):
    repository, work, _ = mirrored
    secret = repository_webhook_secret_rotate(actor=Actor.for_user(staff, "api"), repository=repository)
    work.commit("hotfix", {"fix.txt": "fixed\n"})
    work.publish(work.bare)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_gitlab(gitlab_push(repository.external_url), secret)
    assert response.status_code == 202, response.content
    run = SyncRun.objects.get(pk=response.json()["run"])
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    repository.refresh_from_db()
    assert refs(settings.LOCAL_FORGE_ROOT / f"{repository.internal_path}.git") == refs(work.bare)


def test_non_ascii_secrets_and_signatures_are_401_not_500(staff, enqueued):
    """compare_digest refuses str with non-ASCII characters; the headers are compared as bytes."""
    _, gitlab_secret = with_secret(GITLAB_URL, staff)
    with_secret(GITHUB_URL, staff)
    body = json.dumps(github_push()).encode()
    for signature in ["sha256=" + "é" * 64, "sha256=" + "\u2603" * 64, "sha256=\udcff"]:
        response = Client().post("/api/v1/hooks/github/", body, content_type="application/json",
                                 HTTP_X_GITHUB_EVENT="push", HTTP_X_HUB_SIGNATURE_256=signature)
        assert response.status_code == 401, (signature, response.content)
        assert response.json()["code"] == "webhook_unauthorized"
    for token in [gitlab_secret[:-1] + "é", "ünïcödé", "\udcff"]:
        response = post_gitlab(gitlab_push(), token)
        assert response.status_code == 401, (token, response.content)
    assert not SyncRun.objects.exists() and enqueued == []


def test_a_replayed_gitlab_delivery_triggers_nothing(staff, enqueued, django_capture_on_commit_callbacks):
    _, secret = with_secret(GITLAB_URL, staff)
    with django_capture_on_commit_callbacks(execute=True):
        first = post_gitlab(gitlab_push(), secret, HTTP_X_GITLAB_EVENT_UUID="uuid-7")
    assert first.status_code == 202
    replay = post_gitlab(gitlab_push(), secret, HTTP_X_GITLAB_EVENT_UUID="uuid-7")
    assert replay.status_code == 200 and replay.json()["detail"] == "duplicate"
    run = SyncRun.objects.get()
    assert run.joined_requests == 0 and enqueued == [run.pk]
    # Another delivery of the same push (a new id) is a new request, joined to the queued run.
    assert post_gitlab(gitlab_push(), secret, HTTP_X_GITLAB_EVENT_UUID="uuid-8").status_code == 202
    run.refresh_from_db()
    assert run.joined_requests == 1


def test_a_replayed_github_body_is_recognised_even_under_a_new_delivery_id(staff, enqueued):
    """GitHub signs the body, not the X-GitHub-Delivery header: a captured request replayed with a made-up
    id is still the same signed body."""
    _, secret = with_secret(GITHUB_URL, staff)
    assert post_github(github_push(), secret, delivery="g-1").status_code == 202
    for delivery in ("g-1", "g-forged"):
        replay = post_github(github_push(), secret, delivery=delivery)
        assert replay.status_code == 200 and replay.json()["detail"] == "duplicate", delivery
    assert SyncRun.objects.get().joined_requests == 0


def test_deliveries_are_remembered_for_the_retention_only(staff, enqueued, settings):
    from datetime import timedelta

    from django.utils import timezone

    from console.models import WebhookDelivery

    settings.WEBHOOK_DELIVERY_RETENTION_SECONDS = 3600
    _, secret = with_secret(GITLAB_URL, staff)
    assert post_gitlab(gitlab_push(), secret, HTTP_X_GITLAB_EVENT_UUID="old").status_code == 202
    WebhookDelivery.objects.update(received_at=timezone.now() - timedelta(hours=2))
    # The old record is pruned when the next delivery arrives; the same id is then accepted again.
    assert post_gitlab(gitlab_push(), secret, HTTP_X_GITLAB_EVENT_UUID="old").status_code == 202
    assert WebhookDelivery.objects.count() == 1
