"""The repository page in a real browser: the Sync button requests a run without reloading the page, and
portal.js swaps the run's row in place as it goes from queued to finished.

Runs Debian's Chromium through Playwright against pytest-django's live server, with real git on both sides
(the external repository and the local forge) and the real sync service run by an in-process worker.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from console.models import ProvisioningRun, RefChange, Role, RunStatus, SyncRun, Trigger
from console.services.actors import Actor
from console.services.repositories import repository_register
from tests.console.portal.browser_support import CHROMIUM, CHROMIUM_ARGS, TaskWorker
from tests.factories import make_member, make_organization, make_project, make_user
from tests.support.enqueue import stand_in

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
)

PASSWORD = "browser-pass-word-123"


@pytest.fixture
def worker(enqueued, monkeypatch):
    """Tasks run for real in a background thread, 1.5 s after they were enqueued (overrides `enqueued`)."""

    worker = TaskWorker(delay=1.5).start()
    stand_in(monkeypatch, "sync", worker.enqueue_sync)
    stand_in(monkeypatch, "provisioning", worker.enqueue_provisioning)
    yield worker
    try:
        worker.wait_idle(timeout=30)
    finally:
        worker.stop()


@pytest.fixture
def registered(forge_server, external_forge, worker):
    """Bruno maintains acme/shop, whose repository `app` is registered and mirrored (initial sync done)."""
    bruno = make_user("bruno", password=PASSWORD)
    project = make_project(make_organization("acme", owner=make_user("olivia")), "shop")
    make_member(bruno, project, Role.MAINTAINER)
    app = external_forge.create("app")
    repository = repository_register(
        actor=Actor.for_user(bruno, "portal"), project=project, name="app", external_url=external_forge.url("app")
    )
    worker.wait_idle(timeout=20)
    initial = SyncRun.objects.get(repository=repository)
    assert (initial.trigger, initial.status) == (Trigger.INITIAL, RunStatus.SUCCEEDED), initial.error_message
    provisioning = ProvisioningRun.objects.get(project=project)
    assert provisioning.status == RunStatus.SUCCEEDED, provisioning.error_message
    return bruno, repository, app, initial


# Records the status of every sync row the page shows, in order, however it got there (swapped, added, or
# inside a live section portal.js swapped in while work was pending).
WATCH_ROWS = """() => {
  window.__seen = [];
  const record = (row) => window.__seen.push([row.id, row.getAttribute("data-run-status")]);
  new MutationObserver((mutations) => {
    for (const mutation of mutations)
      for (const node of mutation.addedNodes) {
        if (node.nodeType !== 1) continue;
        if (node.id && node.id.startsWith("sync-run-")) record(node);
        else node.querySelectorAll("tr[id^='sync-run-']").forEach(record);
      }
  }).observe(document.querySelector("main"), { childList: true, subtree: true });
}"""


def test_sync_button_updates_the_run_row_in_place(registered, live_server, settings, worker):
    bruno, repository, app, initial = registered
    host = urlsplit(live_server.url).hostname
    if host not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    new_sha = app.commit("second change", {"CHANGELOG.md": "second change\n"})
    app.publish(app.bare)
    repository_path = f"/repositories/{repository.pk}/"

    # The browser part touches no database from this thread: Playwright's sync API keeps an event loop
    # running here, and Django refuses database calls from a thread with a running event loop.
    page_errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.on("pageerror", lambda error: page_errors.append(str(error)))

            page.goto(f"{live_server.url}/accounts/login/?next={repository_path}")
            page.get_by_label("Username").fill("bruno")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server.url}{repository_path}")

            rows = page.locator("#sync-runs > tr")
            sync_api.expect(rows).to_have_count(1)
            sync_api.expect(rows.first).to_have_id(f"sync-run-{initial.pk}")
            page.evaluate("window.__marker = 1")
            page.evaluate(WATCH_ROWS)

            page.get_by_role("button", name="Sync", exact=True).click()

            new_row = rows.first  # a new run's row goes on top
            sync_api.expect(rows).to_have_count(2)
            sync_api.expect(new_row).not_to_have_id(f"sync-run-{initial.pk}")
            run_id = int(new_row.get_attribute("id").removeprefix("sync-run-"))
            sync_api.expect(page.locator("#messages")).to_have_text(f"Sync #{run_id} queued.")
            # Polled every second until the worker (1.5 s behind) has finished the run.
            sync_api.expect(new_row).to_have_attribute("data-run-status", "succeeded", timeout=20_000)
            sync_api.expect(new_row.locator(".badge")).to_have_text("Succeeded")
            changes = new_row.locator("table.changes tr")
            sync_api.expect(changes).to_have_count(1)
            sync_api.expect(changes.first).to_contain_text("refs/heads/main")
            sync_api.expect(changes.first).to_contain_text("updated")
            sync_api.expect(changes.first).to_contain_text(new_sha[:8])
            assert not new_row.evaluate("row => row.hasAttribute('data-poll-url')")  # polling has stopped

            assert page.evaluate("window.__marker") == 1, "the page was reloaded"
            seen = [status for row, status in page.evaluate("window.__seen") if row == f"sync-run-{run_id}"]
            assert seen[0] == "queued" and seen[-1] == "succeeded", seen
            assert page.locator(f"#sync-run-{initial.pk}").count() == 1  # the older row stays
        finally:
            browser.close()
    assert not page_errors, page_errors

    worker.wait_idle(timeout=20)
    run = SyncRun.objects.get(pk=run_id)
    assert run.repository_id == repository.pk
    assert (run.status, run.trigger, run.actor_id) == (RunStatus.SUCCEEDED, Trigger.PORTAL, bruno.pk)
    assert run.head_sha == new_sha
    change = RefChange.objects.get(sync_run=run)
    assert (change.ref, change.new_sha) == ("refs/heads/main", new_sha)
    assert ("sync", run_id) in worker.executed
