"""Notifications received on loopback: a webhook checks the HMAC signature of each event, failed deliveries
are retried and recorded, e-mail goes through Django's mail settings, and the run paths raise the events."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from console.models import NotificationDelivery
from console.services.notifications import DeliveryFailed, notification_deliver, notification_target_create, notify
from console.services.pins import image_pin
from tests.factories import make_repository
from tests.console.services.test_images import project  # noqa: F401 - fixture
from tests.console.services.test_flow import executed  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


class Receiver:
    """A webhook endpoint on loopback: answers the queued statuses in turn (then 200), keeps every request."""

    def __init__(self):
        self.received: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/dso"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def delivered(monkeypatch):
    """The task's body in this process, retrying at once (the countdown is the task's business)."""
    from console.services import notifications

    def deliver_now(delivery_id, countdown=0):
        for _ in range(notifications.MAX_ATTEMPTS):
            try:
                notification_deliver(delivery_id=delivery_id)
                return
            except DeliveryFailed:
                continue

    monkeypatch.setattr(notifications, "_enqueue", deliver_now)


def test_a_pin_reaches_the_webhook_signed_and_the_mailbox(project, receiver, delivered,
                                                          django_capture_on_commit_callbacks):  # noqa: F811
    webhook, secret = notification_target_create(actor=project.actor, project=project, kind="webhook",
                                                 url=receiver.url)
    notification_target_create(actor=project.actor, project=project, kind="email", emails=["ops@example.com"],
                               events=["image_pinned"])
    repository = make_repository(project, is_infra=True, deploy_kind="helm")
    with django_capture_on_commit_callbacks(execute=True):
        image_pin(actor=project.actor, repository=repository, image="reg/app", tag="1.0.0", reason="incident 7")
    [request] = receiver.received
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-DSO-Signature"] == expected
    assert request["headers"]["X-DSO-Event"] == "image_pinned"
    document = json.loads(request["body"])
    assert document["payload"] == {"repository": repository.name, "image": "reg/app", "tag": "1.0.0",
                                   "by": "alice", "reason": "incident 7"}
    [message] = mail.outbox
    assert message.to == ["ops@example.com"] and "image pinned" in message.subject
    assert set(NotificationDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert secret not in json.dumps(list(NotificationDelivery.objects.values("payload", "error")))


def test_failed_deliveries_are_retried_and_each_attempt_recorded(project, receiver, delivered,
                                                                 django_capture_on_commit_callbacks):  # noqa: F811
    notification_target_create(actor=project.actor, project=project, kind="webhook", url=receiver.url)
    receiver.statuses = [500, 503]
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = notify(project=project, event="sync_failed", payload={"repository": "app"})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)
    assert len(receiver.received) == 3

    receiver.statuses = [500] * 10
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = notify(project=project, event="bump_failed", payload={})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 5)
    assert delivery.error == "the webhook answered HTTP 500"


def test_a_failed_sync_notifies(project, receiver, delivered, forge_server, monkeypatch,
                                django_capture_on_commit_callbacks):  # noqa: F811
    from console.services import runs
    from console.services.repositories import repository_register
    from tests.support.gitrepos import closed_port

    monkeypatch.setattr(runs, "MAX_ATTEMPTS", 1)
    notification_target_create(actor=project.actor, project=project, kind="webhook", url=receiver.url,
                               events=["sync_failed"])
    with django_capture_on_commit_callbacks(execute=True):
        repository_register(actor=project.actor, project=project, name="gone",
                            external_url=f"http://127.0.0.1:{closed_port()}/nothing.git")
    events = [json.loads(r["body"]) for r in receiver.received]
    assert [(e["event"], e["payload"]["repository"], e["payload"]["code"]) for e in events] == \
        [("sync_failed", "gone", "unreachable")]


def test_targets_refuse_bad_input(project):  # noqa: F811
    from console.services.errors import DomainError

    for fields in (dict(kind="webhook", url="ftp://x"), dict(kind="email", emails=["not-an-address"]),
                   dict(kind="webhook", url="https://hooks.example.com/x", events=["everything"]),
                   dict(kind="pager")):
        with pytest.raises(DomainError):
            notification_target_create(actor=project.actor, project=project, **fields)


def test_the_api_creates_a_target_showing_its_secret_once_and_lists_deliveries(project, receiver,
                                                                               delivered,
                                                                               django_capture_on_commit_callbacks):  # noqa: F811
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(project.actor.user)
    created = client.post(f"/api/v1/projects/{project.pk}/notification-targets/",
                          {"kind": "webhook", "url": receiver.url}, format="json")
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    listed = client.get(f"/api/v1/projects/{project.pk}/notification-targets/").json()
    assert "secret" not in listed["results"][0] and secret not in json.dumps(listed)
    with django_capture_on_commit_callbacks(execute=True):
        notify(project=project, event="new_tag_waiting", payload={"image": "reg/app", "tag": "2.0.0"})
    deliveries = client.get(f"/api/v1/projects/{project.pk}/notification-deliveries/").json()
    assert [(d["event"], d["status"]) for d in deliveries["results"]] == [("new_tag_waiting", "delivered")]
