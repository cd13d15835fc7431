"""End to end in Debian's Chromium, over real HTTP on every side: the console on pytest-django's live server,
the OpenID Connect provider double in its own process, the external repository and the local forge served by
git smart HTTP on loopback, and the real sync and provisioning services run by an in-process worker.

One story: a platform admin signs in through the identity provider, creates an organization and a project,
registers a repository, presses Sync and watches it finish with its per-ref changes, adds a reader, switches
to French; the reader sees no Sync button and the API refuses the reader's sync; the admin re-provisions the
project from the operations view. Screenshots of the main pages at desktop and phone width are taken on the
way ($DSO_SCREENSHOTS=docs/screenshots refreshes the README's).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from console.models import Membership, Project, ProvisioningRun, Repository, RunStatus, SyncRun
from tests.console.portal.axe_support import DESKTOP, PHONE, shoot, violations
from tests.console.portal.browser_support import CHROMIUM, CHROMIUM_ARGS, TaskWorker
from tests.factories import make_user
from tests.support.enqueue import stand_in

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
expect = sync_api.expect

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
)

READER_PASSWORD = "reader-pass-word-123"


@pytest.fixture
def worker(monkeypatch):
    worker = TaskWorker(delay=0.5).start()
    stand_in(monkeypatch, "sync", worker.enqueue_sync)
    stand_in(monkeypatch, "provisioning", worker.enqueue_provisioning)
    yield worker
    try:
        worker.wait_idle(timeout=60)
    finally:
        worker.stop()


def provider_sign_in(page, base: str, user, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.locator("#oidc-sign-in").click()
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(user.password)
    page.locator("#provider-sign-in").click()
    page.wait_for_url(f"{base}{next_path}")


def test_a_platform_admin_and_a_reader_through_the_whole_portal(
        live_server, settings, oidc_live_provider, forge_server, external_forge, worker, tmp_path):
    host = urlsplit(live_server.url).hostname
    if host not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    base = live_server.url
    admin = oidc_live_provider.create_user("olivia", "pw-olivia-1", groups=[settings.OIDC_ADMIN_GROUP],
                                           first_name="Olivia", last_name="Martin")
    make_user("rita", password=READER_PASSWORD)
    app = external_forge.create("app")
    app_url = external_forge.url("app")
    errors: list[str] = []

    # No database calls inside the Playwright block: its event loop runs in this thread (see test_browser).
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            desktop = browser.new_context(viewport=DESKTOP)
            page = desktop.new_page()
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{base}/accounts/login/")
            shoot(page, "login-desktop", tmp_path)

            provider_sign_in(page, base, admin, "/dashboard/")
            expect(page.locator(".who")).to_contain_text("olivia (platform admin)")
            expect(page.locator("#my-projects")).to_contain_text("You are not a member of any organization yet")

            # An organization, then a project in it; the worker provisions the project.
            page.get_by_role("link", name="New organization").click()
            page.get_by_label("Slug").fill("acme")
            page.get_by_label("Name").fill("ACME Corporation")
            page.get_by_role("button", name="Create organization").click()
            expect(page.locator("#messages")).to_contain_text("Organization acme created; you are its owner.")
            page.get_by_role("link", name="New project").click()
            page.get_by_label("Slug").fill("shop")
            page.get_by_label("Name").fill("Web shop")
            page.get_by_role("button", name="Create project").click()
            expect(page.locator("#messages")).to_contain_text("Project acme/shop created")
            project_url = page.url
            expect(page.locator("#provisioning tbody tr").first.locator(".badge")).to_have_text(
                "Succeeded", timeout=30_000)

            # A repository served on loopback; its initial sync runs.
            page.locator("#id_repo-name").fill("app")
            page.locator("#id_repo-external_url").fill(app_url)
            page.get_by_role("button", name="Register repository").click()
            expect(page.locator("#messages")).to_contain_text("Repository app registered; initial sync")
            repository_url = page.url.split("#")[0]
            rows = page.locator("#sync-runs > tr")
            expect(rows.first).to_have_attribute("data-run-status", "succeeded", timeout=30_000)

            # A new commit upstream, then Sync: the row updates in place and shows the ref it moved.
            new_sha = app.commit("second change", {"CHANGELOG.md": "second change\n"})
            app.publish(app.bare)
            page.get_by_role("button", name="Sync", exact=True).click()
            expect(rows).to_have_count(2)
            expect(page.locator("#messages")).to_contain_text(re.compile(r"Sync #\d+ queued\."))
            expect(rows.first).to_have_attribute("data-run-status", "succeeded", timeout=30_000)
            changes = rows.first.locator("table.changes tr")
            expect(changes).to_have_count(1)
            expect(changes.first).to_contain_text("refs/heads/main")
            expect(changes.first).to_contain_text(new_sha[:8])
            expect(page.locator("#pending-work")).to_have_count(0, timeout=20_000)
            shoot(page, "repository-desktop", tmp_path)

            # The reader joins the project from the members section.
            page.goto(project_url)
            page.locator("#id_member-username").fill("rita")
            page.locator("#id_member-role").select_option("reader")
            page.get_by_role("button", name="Add or change member").click()
            expect(page.locator("#messages")).to_contain_text("rita is now Reader of acme/shop.")
            expect(page.locator("#activity")).to_contain_text("membership.set")
            shoot(page, "project-desktop", tmp_path)
            page.goto(f"{base}/dashboard/")
            expect(page.locator("#my-projects")).to_contain_text("Succeeded")
            shoot(page, "dashboard-desktop", tmp_path)

            # French: the switcher keeps the choice from page to page.
            page.goto(repository_url)
            page.get_by_role("button", name="Français").click()
            expect(page.locator("html")).to_have_attribute("lang", "fr")
            expect(page.locator("#sync-history h2")).to_have_text("Historique des synchronisations")
            expect(rows.first.locator(".badge").first).to_have_text("Réussi")
            page.goto(project_url)
            expect(page.get_by_role("button", name="Reprovisionner")).to_be_visible()
            expect(page.get_by_role("button", name="Synchroniser", exact=True)).to_be_visible()
            expect(page.get_by_role("button", name="English")).to_be_visible()
            shoot(page, "project-fr-desktop", tmp_path)
            assert violations(page) == []

            # The platform admin re-provisions the project from the operations view, in French.
            page.get_by_role("link", name="Opérations").click()
            page.get_by_label("acme/shop").check()
            page.get_by_role("button", name="Reprovisionner").click()
            expect(page.locator("#messages")).to_contain_text(
                re.compile(r"acme/shop : provisionnement n° \d+ en attente"))
            shoot(page, "operations-desktop", tmp_path)

            phone = browser.new_context(viewport=PHONE).new_page()
            phone.set_default_timeout(20_000)
            provider_sign_in(phone, base, admin, urlsplit(repository_url).path)
            shoot(phone, "repository-phone", tmp_path)
            phone.goto(project_url)
            shoot(phone, "project-phone", tmp_path)
            phone.goto(f"{base}/dashboard/")
            shoot(phone, "dashboard-phone", tmp_path)

            # The reader, with a local account: no Sync button, and the API refuses the sync too.
            reader = browser.new_context(viewport=DESKTOP).new_page()
            reader.set_default_timeout(20_000)
            reader.goto(f"{base}/accounts/login/?next={urlsplit(repository_url).path}")
            reader.locator(".local-sign-in summary").click()
            reader.get_by_label("Username").fill("rita")
            reader.get_by_label("Password").fill(READER_PASSWORD)
            reader.get_by_role("button", name="Sign in", exact=True).click()
            reader.wait_for_url(repository_url)
            expect(reader.locator("#sync-history")).to_be_visible()
            expect(reader.get_by_role("button", name="Sync", exact=True)).to_have_count(0)
            csrf = next(c["value"] for c in reader.context.cookies() if c["name"] == "csrftoken")
            repository_id = urlsplit(repository_url).path.strip("/").split("/")[-1]
            refused = reader.request.post(f"{base}/api/v1/repositories/{repository_id}/sync/",
                                          headers={"X-CSRFToken": csrf, "Referer": repository_url})
            assert refused.status == 403, refused.text()
            assert refused.json()["code"] == "permission_denied"
            assert "requesting a sync needs the developer" in refused.json()["detail"]
        finally:
            browser.close()
    assert not errors, errors

    worker.wait_idle(timeout=60)
    project = Project.objects.get(organization__slug="acme", slug="shop")
    repository = Repository.objects.get(project=project, name="app")
    assert [run.status for run in SyncRun.objects.filter(repository=repository)] == [RunStatus.SUCCEEDED] * 2
    assert SyncRun.objects.filter(repository=repository).first().head_sha == new_sha
    assert Membership.objects.get(user__username="rita", project=project).role == "reader"
    reprovision = ProvisioningRun.objects.filter(project=project).first()
    # Everything was already in place: the run the bulk action queued finished as a recorded no-op.
    assert (reprovision.trigger, reprovision.status) == ("admin", RunStatus.NO_CHANGE)
