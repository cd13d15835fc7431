"""The project page in a real browser while work is pending: the bump in progress and its warning update
in place as the work ends, without a reload; and the CI-token page's copy button.

Runs Debian's Chromium through Playwright against pytest-django's live server. The "worker" here is a
thread that records what a finished bump leaves behind (the bump pushed, its sync, the warning cleared), so
the test follows exactly what the page polls for.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from console.models import CiToken, Role, RunStatus, SyncRun
from console.models.images import ImageBump, ImageInventoryEntry, ImageRelease
from tests.console.portal.browser_support import CHROMIUM, CHROMIUM_ARGS
from tests.factories import make_member, make_organization, make_project, make_repository, make_user

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
)

PASSWORD = "live-pass-word-123"
IMAGE = "registry.example.com/acme/shop-backend"


@pytest.fixture
def waiting_bump(transactional_db, enqueued):
    bruno = make_user("bruno", password=PASSWORD)
    project = make_project(make_organization("acme", owner=make_user("olivia")), "shop")
    make_member(bruno, project, Role.MAINTAINER)
    deploy = make_repository(project, "deploy", is_infra=True, deploy_kind="helm", deploy_path="chart",
                             helm_value_files=["values.yaml"], token="ext-write-token")
    ImageInventoryEntry.objects.create(repository=deploy, image=IMAGE, tag="1.3.0", file="chart/values.yaml",
                                       location="image", source="helm_values", commit_sha="ab" * 20)
    release = ImageRelease.objects.create(project=project, image=IMAGE, tag="1.4.0", commit_sha="cd" * 20,
                                          source=ImageRelease.Source.CI_REPORT)
    bump = ImageBump.objects.create(repository=deploy, image=IMAGE, tag="1.4.0", file="chart/values.yaml",
                                    location="image", trigger="portal", actor=bruno,
                                    trigger_detail={"by": "bruno", "interface": "portal"})
    return bruno, project, deploy, release, bump


def finish_bump_later(deploy, release, bump, *, after: float) -> threading.Thread:
    def finish():
        try:
            time.sleep(after)
            sync = SyncRun.objects.create(repository=deploy, trigger="portal", status=RunStatus.SUCCEEDED,
                                          trigger_detail={"by": "bruno", "interface": "system", "image_bump": bump.pk})
            ImageBump.objects.filter(pk=bump.pk).update(status=RunStatus.SUCCEEDED, finished_at=timezone.now(),
                                                        old_tag="1.3.0", commit_sha="ef" * 20, sync_run=sync)
            ImageRelease.objects.filter(pk=release.pk).update(resolved_at=timezone.now())
        finally:
            connection.close()

    thread = threading.Thread(target=finish, daemon=True)
    thread.start()
    return thread


def sign_in(page, base: str, path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={path}")
    page.get_by_label("Username").fill("bruno")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{path}")


def test_a_bump_in_progress_and_its_warning_update_without_a_reload(waiting_bump, live_server, settings):
    bruno, project, deploy, release, bump = waiting_bump
    host = urlsplit(live_server.url).hostname
    if host not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    path = f"/projects/{project.pk}/"
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.on("pageerror", lambda error: errors.append(str(error)))
            sign_in(page, live_server.url, path)
            sync_api.expect(page.locator("#redeploy-warnings")).to_contain_text(f"bump #{bump.pk} to 1.4.0")
            sync_api.expect(page.locator("#pending-work")).to_contain_text(f"bump #{bump.pk} of {IMAGE}")
            page.evaluate("window.__marker = 1")

            worker = finish_bump_later(deploy, release, bump, after=1.0)

            sync_api.expect(page.locator("#redeploy-warnings")).to_have_count(0, timeout=20_000)
            sync_api.expect(page.locator("#pending-work")).to_have_count(0)
            sync_api.expect(page.locator("#sync-runs")).to_contain_text(f"DSO Console after bump #{bump.pk}")
            assert not page.locator("#live-pending").evaluate("e => e.hasAttribute('data-live-active')")
            assert page.evaluate("window.__marker") == 1, "the page was reloaded"
            worker.join(10)
        finally:
            browser.close()
    assert not errors, errors


def test_the_new_ci_token_is_copied_by_its_button_and_not_shown_on_reload(waiting_bump, live_server, settings):
    bruno, project, deploy, release, bump = waiting_bump
    host = urlsplit(live_server.url).hostname
    if host not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    ImageBump.objects.filter(pk=bump.pk).update(status=RunStatus.SUCCEEDED)  # a quiet page
    path = f"/repositories/{deploy.pk}/"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context()
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
            page = context.new_page()
            page.set_default_timeout(10_000)
            sign_in(page, live_server.url, path)
            page.locator("#ci-triggers summary").click()  # the CI section starts collapsed
            page.locator("#id_ci-name").fill("gitlab-ci")
            page.get_by_role("button", name="Create CI token").click()
            page.wait_for_url(f"{live_server.url}{path}#ci-triggers")

            secret = page.locator("#ci-new-secret").text_content().strip()
            copy = page.locator('[data-copy-target="ci-new-secret"]')
            sync_api.expect(copy).to_be_visible()  # hidden until portal.js knows the clipboard works
            copy.click()
            sync_api.expect(copy).to_have_text("Copied")
            copied = page.evaluate("navigator.clipboard.readText()")

            page.reload()  # a plain GET: nothing is posted again and the secret is gone
            sync_api.expect(page.locator("#ci-new-secret")).to_have_count(0)
        finally:
            browser.close()
    assert copied == secret and secret.startswith("dsoci_")
    assert CiToken.objects.filter(repository=deploy).count() == 1
