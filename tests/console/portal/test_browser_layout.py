"""Layout in a real browser at 1280 px: run tables with long refs and SHAs fit the page (they wrap, or
scroll inside their card), on the portal's project and repository pages and in the admin's run list."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from console.models import ProvisioningRun, RefChange, RunStatus, SyncRun
from tests.console.portal.browser_support import CHROMIUM, CHROMIUM_ARGS
from tests.factories import make_organization, make_project, make_repository, make_user

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
)

PASSWORD = "layout-pass-word-123"
TABLES_WIDER_THAN_THEIR_BOX = """() => Array.from(document.querySelectorAll("main table, #result_list"))
  .filter((table) => table.scrollWidth > table.parentElement.clientWidth + 1)
  .map((table) => [table.id || table.className || table.parentElement.className, table.scrollWidth,
                   table.parentElement.clientWidth])"""
WIDTH = 1280


@pytest.fixture
def busy_history(db):
    owner = make_user("olivia", password=PASSWORD, staff=True)
    owner.is_superuser = True
    owner.save()
    project = make_project(make_organization("acme", owner=owner), "shop-with-a-rather-long-project-name")
    repository = make_repository(
        project, "payments-service-backend",
        external_url="https://git.example.com/a-very-long-group-name/another-subgroup/payments-service-backend.git",
        internal_path="dso/acme/shop-with-a-rather-long-project-name/payments-service-backend",
        internal_url="http://127.0.0.1:8001/git/dso/acme/shop-with-a-rather-long-project-name/payments-service-backend.git",
    )
    for number in range(3):
        run = SyncRun.objects.create(
            repository=repository, trigger="ci", status=RunStatus.FAILED, head_sha="f" * 40,
            trigger_detail={"by": "ci-token-for-the-payments-service-release-pipeline", "interface": "ci"},
            error_code="authentication_failed",
            error_message="https://git.example.com/a-very-long-group-name/another-subgroup/payments.git refused the "
                          "token: check that it has read_repository and that it has not expired" * 2,
        )
        RefChange.objects.create(sync_run=run, ref=f"refs/heads/feature/JIRA-{number}-an-extremely-long-branch-name-"
                                 "that-goes-on-and-on-without-any-break", old_sha="a" * 40, new_sha="b" * 40,
                                 kind="forced")
    ProvisioningRun.objects.create(project=project, trigger="portal", status=RunStatus.SUCCEEDED,
                                   result={"commit": "c" * 40, "created": ["dso/acme/" + "x" * 60]})
    return owner, project, repository


def test_run_tables_fit_1280_pixels(busy_history, live_server, settings):
    owner, project, repository = busy_history
    host = urlsplit(live_server.url).hostname
    if host not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    pages = [f"/projects/{project.pk}/", f"/repositories/{repository.pk}/", "/admin/console/syncrun/",
             "/admin/console/provisioningrun/"]

    widths, overflowing = {}, {}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.set_default_timeout(10_000)
            page.goto(f"{live_server.url}/accounts/login/")
            page.get_by_label("Username").fill("olivia")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            for path in pages:
                page.goto(f"{live_server.url}{path}")
                assert page.locator("body").count() == 1
                widths[path] = page.evaluate("document.documentElement.scrollWidth")
                # Nor does any table need a scrollbar of its own: long refs, SHAs and paths wrap.
                overflowing[path] = page.evaluate(TABLES_WIDER_THAN_THEIR_BOX)
        finally:
            browser.close()
    assert all(width <= WIDTH for width in widths.values()), widths
    assert not any(overflowing.values()), overflowing
