"""The notifications page: add a webhook (its secret shown once, then never) or e-mail target, choose its
events, disable and remove it, and read the deliveries made to a real loopback receiver, page by page."""

from __future__ import annotations

import pytest

from console.models import NotificationDelivery, NotificationTarget, Role
from console.services.notifications import DeliveryFailed, notification_deliver, notify
from tests.console.portal.test_registries import field_error
from tests.console.services.test_notifications import Receiver
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def add(client, project, **fields):
    data = {"target-kind": "webhook", "target-url": "", "target-emails": ""}
    data.update({f"target-{key}": value for key, value in fields.items()})
    return client.post(f"/projects/{project.pk}/notifications/", data)


def deliver(delivery_id: int) -> None:
    """What the task does, retrying at once until the delivery is delivered or given up."""
    for _ in range(10):
        try:
            notification_deliver(delivery_id=delivery_id)
            return
        except DeliveryFailed:
            continue


def test_a_webhook_secret_is_shown_once_and_deliveries_are_listed(client_for, user, owner_project, receiver):
    client = client_for(user)
    created = add(client, owner_project, url=receiver.url, events=["sync_failed", "image_pinned"])
    target = NotificationTarget.objects.get()
    assert created.status_code == 200 and created["Cache-Control"] == "no-store"
    assert target.secret and target.secret in created.content.decode()
    assert target.events == ["sync_failed", "image_pinned"]

    page = client.get(f"/projects/{owner_project.pk}/notifications/").content.decode()
    assert target.secret not in page and receiver.url in page
    assert "sync failed, image pinned" in page

    ok = notify(project=owner_project, event="sync_failed", payload={"repository": "app"})[0]
    deliver(ok.pk)
    receiver.statuses = [500] * 10
    refused = notify(project=owner_project, event="image_pinned", payload={"image": "team/app"})[0]
    deliver(refused.pk)
    assert notify(project=owner_project, event="bump_failed", payload={}) == []  # not an event it wants
    page = client.get(f"/projects/{owner_project.pk}/notifications/").content.decode()
    assert target.secret not in page
    assert ">delivered<" in page and ">failed<" in page and "the webhook answered HTTP 500" in page
    assert ">500<" in page and ">200<" in page and ">5<" in page  # response codes, attempts

    edited = client.post(f"/projects/{owner_project.pk}/notifications/{target.pk}/edit/",
                         {f"target-{target.pk}-events": ["new_tag_waiting"]})
    assert edited.status_code == 302
    target.refresh_from_db()
    assert target.events == ["new_tag_waiting"] and target.enabled is False
    client.post(f"/projects/{owner_project.pk}/notifications/{target.pk}/edit/",
                {f"target-{target.pk}-enabled": "on"})
    target.refresh_from_db()
    assert target.enabled is True and len(target.events) == 5  # none ticked: every event

    assert client.post(f"/projects/{owner_project.pk}/notifications/{target.pk}/remove/").status_code == 302
    assert not NotificationTarget.objects.exists() and not NotificationDelivery.objects.exists()


def test_an_email_target_and_bad_input_on_its_field(client_for, user, owner_project):
    client = client_for(user)
    remote_http = add(client, owner_project, url="http://hooks.example.com/dso")
    assert remote_http.status_code == 400
    assert field_error(remote_http.content.decode(), "id_target-url").strip()
    no_address = add(client, owner_project, kind="email")
    assert "at least one address" in field_error(no_address.content.decode(), "id_target-emails")
    bad_address = add(client, owner_project, kind="email", emails="ops@example.com, not-an-address")
    assert "not-an-address" in field_error(bad_address.content.decode(), "id_target-emails")
    assert not NotificationTarget.objects.exists()

    created = add(client, owner_project, kind="email", emails="ops@example.com, dev@example.com")
    assert created.status_code == 302
    target = NotificationTarget.objects.get()
    assert target.emails == ["ops@example.com", "dev@example.com"] and target.secret == ""
    assert "ops@example.com, dev@example.com" in client.get(
        f"/projects/{owner_project.pk}/notifications/").content.decode()


def test_deliveries_are_paginated(client_for, user, owner_project):
    client = client_for(user)
    add(client, owner_project, kind="email", emails="ops@example.com")
    target = NotificationTarget.objects.get()
    NotificationDelivery.objects.bulk_create(
        NotificationDelivery(target=target, event="sync_failed", error=f"error number {i:02d}") for i in range(30))
    first = client.get(f"/projects/{owner_project.pk}/notifications/").content.decode()
    second = client.get(f"/projects/{owner_project.pk}/notifications/?page=2").content.decode()
    assert first.count("error number") == 25 and second.count("error number") == 5
    assert "Page 1 of 2" in first and "?page=2#deliveries" in first and "Page 2 of 2" in second


def test_members_below_maintainer_are_refused(client_for, user, owner_project):
    add(client_for(user), owner_project, kind="email", emails="ops@example.com")
    target = NotificationTarget.objects.get()
    for role in (Role.READER, Role.DEVELOPER):
        member = make_user(f"m-{role}")
        make_member(member, owner_project, role)
        client = client_for(member)
        assert client.get(f"/projects/{owner_project.pk}/notifications/").status_code == 403
        assert add(client, owner_project, kind="email", emails="x@example.com").status_code == 403
        assert client.post(f"/projects/{owner_project.pk}/notifications/{target.pk}/edit/",
                           {f"target-{target.pk}-enabled": ""}).status_code == 403
        assert client.post(f"/projects/{owner_project.pk}/notifications/{target.pk}/remove/").status_code == 403
        # Nor does the project page link to the page they cannot open.
        assert f"/projects/{owner_project.pk}/notifications/" not in client.get(
            f"/projects/{owner_project.pk}/").content.decode()
    target.refresh_from_db()
    assert NotificationTarget.objects.count() == 1 and target.enabled is True
    assert f"/projects/{owner_project.pk}/notifications/" in client_for(user).get(
        f"/projects/{owner_project.pk}/").content.decode()


def test_the_api_edits_and_removes_targets_through_the_same_services(user, owner_project):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    created = api.post(f"/api/v1/projects/{owner_project.pk}/notification-targets/",
                       {"kind": "email", "emails": ["ops@example.com"]}, format="json").json()
    unknown = api.patch(f"/api/v1/notification-targets/{created['id']}/", {"events": ["nope"]}, format="json")
    assert unknown.status_code == 400
    edited = api.patch(f"/api/v1/notification-targets/{created['id']}/",
                       {"events": ["bump_failed"], "enabled": False}, format="json")
    assert edited.status_code == 200 and edited.json()["events"] == ["bump_failed"]
    assert edited.json()["enabled"] is False and "secret" not in edited.json()
    reader = make_user("rita")
    make_member(reader, owner_project, Role.READER)
    api.force_authenticate(reader)
    assert api.delete(f"/api/v1/notification-targets/{created['id']}/").status_code == 403
    api.force_authenticate(user)
    assert api.delete(f"/api/v1/notification-targets/{created['id']}/").status_code == 204
    assert not NotificationTarget.objects.exists()
