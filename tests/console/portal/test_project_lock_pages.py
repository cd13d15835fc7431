"""A locked project in the portal: the banner says who, since when and why; write buttons are gone; a write
posted anyway shows the lock's message (never a 500); the operations view locks and unlocks in bulk."""

from __future__ import annotations

import html

import pytest

from console.models import AuditEvent, Project, SyncRun
from console.services.actors import Actor
from console.services.project_locks import project_lock
from tests.factories import make_project, make_repository, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked(owner_project):
    repository = make_repository(owner_project, "app")
    project_lock(actor=Actor.for_user(make_user("root", staff=True), "api"), project=owner_project,
                 reason="incident 42: frozen")
    return owner_project, repository


def test_the_project_page_shows_the_lock_and_hides_write_buttons(client_for, user, locked):
    project, repository = locked
    page = html.unescape(client_for(user).get(f"/projects/{project.pk}/").content.decode())
    assert 'id="project-lock"' in page and "This project is locked" in page
    assert "Locked by root since" in page and "incident 42: frozen" in page
    assert f'action="/projects/{project.pk}/provision/"' not in page
    assert f"/projects/{project.pk}/archive/" not in page
    assert f"/repositories/{repository.pk}/sync/" not in page
    assert "Add or change member" not in page

    repository_page = html.unescape(client_for(user).get(f"/repositories/{repository.pk}/").content.decode())
    assert "This project is locked" in repository_page and "incident 42: frozen" in repository_page
    assert f"/repositories/{repository.pk}/edit/" not in repository_page


def test_an_unlocked_project_shows_no_banner(client_for, user, owner_project):
    page = client_for(user).get(f"/projects/{owner_project.pk}/").content.decode()
    assert 'id="project-lock"' not in page and f"/projects/{owner_project.pk}/provision/" in page


def test_writes_posted_anyway_show_the_lock_not_a_server_error(client_for, user, locked):
    project, repository = locked
    client = client_for(user)
    synced = client.post(f"/repositories/{repository.pk}/sync/", follow=True)
    assert synced.status_code == 200 and "is locked by root" in html.unescape(synced.content.decode())
    as_json = client.post(f"/repositories/{repository.pk}/sync/", HTTP_ACCEPT="application/json")
    assert as_json.status_code == 409 and as_json.json()["code"] == "project_locked"
    provisioned = client.post(f"/projects/{project.pk}/provision/", follow=True)
    assert "is locked by root" in html.unescape(provisioned.content.decode())
    member = client.post(f"/projects/{project.pk}/members/", {"member-username": "root", "member-role": "reader"})
    assert member.status_code == 409 and "incident 42: frozen" in html.unescape(member.content.decode())
    edit = client.get(f"/repositories/{repository.pk}/edit/")
    assert edit.status_code == 409 and "incident 42: frozen" in html.unescape(edit.content.decode())
    assert not SyncRun.objects.exists()


def test_bulk_lock_needs_a_reason_and_unlock_says_what_it_did(client_for, owner_project):
    admin = make_user("root", staff=True)
    other = make_project(owner_project.organization, "old")
    client = client_for(admin)
    both = [owner_project.pk, other.pk]

    blank = client.post("/operations/", {"action": "lock", "projects": both, "reason": " "}, follow=True)
    assert "say why the projects are locked" in blank.content.decode()
    assert not Project.objects.filter(locked_at__isnull=False).exists()

    locked = html.unescape(client.post("/operations/", {"action": "lock", "projects": both, "reason": "migration"},
                                       follow=True).content.decode())
    assert "acme/shop: locked" in locked and "acme/old: locked" in locked
    assert Project.objects.filter(lock_reason="migration").count() == 2
    page = client.get("/operations/").content.decode()
    assert 'name="reason"' in page and 'value="lock"' in page and 'value="unlock"' in page

    unlocked = html.unescape(client.post("/operations/", {"action": "unlock", "projects": [owner_project.pk]},
                                         follow=True).content.decode())
    assert "acme/shop: unlocked" in unlocked
    assert list(Project.objects.filter(locked_at__isnull=False).values_list("slug", flat=True)) == ["old"]
    assert AuditEvent.objects.filter(action="project.unlock", interface="portal").count() == 1


def test_registry_and_notification_writes_on_a_locked_project_show_the_lock(client_for, user, locked):
    from console.models import ContainerRegistry, NotificationTarget

    project, _ = locked
    client = client_for(user)
    registries = f"/projects/{project.pk}/registries/"
    assert client.get(registries).status_code == 200  # reading stays open

    added = client.post(registries, {"registry-name": "main", "registry-url": "https://registry.example.com"}, follow=True)
    assert added.status_code in (200, 409) and "incident 42: frozen" in html.unescape(added.content.decode())
    notifications = f"/projects/{project.pk}/notifications/"
    target = client.post(notifications, {"target-kind": "webhook", "target-url": "https://hooks.example.com/x"}, follow=True)
    assert target.status_code in (200, 409) and "incident 42: frozen" in html.unescape(target.content.decode())
    assert not ContainerRegistry.objects.exists() and not NotificationTarget.objects.exists()
