"""The Project admin's lock and unlock actions: the reason asked on its own page, then the service per
project, each message saying what was done."""

from __future__ import annotations

import html

import pytest

from console.models import AuditEvent, Project
from tests.console.test_admin import admin_client  # noqa: F401 - fixture
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def test_lock_asks_the_reason_then_locks_and_says_so(admin_client):  # noqa: F811
    shop, old = make_project(slug="shop"), make_project(slug="old")
    selected = {"action": "lock_projects", "_selected_action": [shop.pk, old.pk]}

    asked = admin_client.post("/admin/console/project/", selected)
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "Reason" in page and shop.full_slug in page and old.full_slug in page
    assert not Project.objects.filter(locked_at__isnull=False).exists()

    blank = admin_client.post("/admin/console/project/", {**selected, "apply": "1", "reason": " "})
    assert "say why the projects are locked" in blank.content.decode()
    assert not Project.objects.filter(locked_at__isnull=False).exists()

    done = admin_client.post("/admin/console/project/", {**selected, "apply": "1", "reason": "audit"}, follow=True)
    listing = html.unescape(done.content.decode())
    assert f"Project {shop}: locked" in listing and f"Project {old}: locked" in listing
    assert set(Project.objects.filter(lock_reason="audit").values_list("pk", flat=True)) == {shop.pk, old.pk}
    assert AuditEvent.objects.filter(action="project.lock", interface="admin").count() == 2

    again = admin_client.post("/admin/console/project/", {**selected, "apply": "1", "reason": "other"}, follow=True)
    assert f"Project {shop}: already locked (the first lock is kept)" in html.unescape(again.content.decode())


def test_unlock_says_what_it_did(admin_client):  # noqa: F811
    shop, open_ = make_project(slug="shop"), make_project(slug="free")
    admin_client.post("/admin/console/project/", {"action": "lock_projects", "_selected_action": [shop.pk],
                                                  "apply": "1", "reason": "audit"})
    done = admin_client.post("/admin/console/project/", {"action": "unlock_projects",
                                                         "_selected_action": [shop.pk, open_.pk]}, follow=True)
    listing = html.unescape(done.content.decode())
    assert f"Project {shop}: unlocked" in listing and f"Project {open_}: was not locked" in listing
    assert not Project.objects.filter(locked_at__isnull=False).exists()
    assert AuditEvent.objects.filter(action="project.unlock", interface="admin").count() == 1


def test_the_change_page_and_the_list_show_the_lock(admin_client):  # noqa: F811
    shop = make_project(slug="shop")
    admin_client.post("/admin/console/project/", {"action": "lock_projects", "_selected_action": [shop.pk],
                                                  "apply": "1", "reason": "audit"})
    page = admin_client.get(f"/admin/console/project/{shop.pk}/change/").content.decode()
    assert "Lock reason" in page and "audit" in page and "root" in page
    listing = admin_client.get("/admin/console/project/").content.decode()
    assert "Locked" in listing and 'alt="True"' in listing
