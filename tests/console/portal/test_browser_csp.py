"""The Content-Security-Policy in a real browser: Chromium reports no violation on the portal, the admin
and the API docs, so nothing the pages need (portal.js, the admin's scripts, Swagger UI) is blocked."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from console.models import Role
from tests.console.portal.browser_support import CHROMIUM, CHROMIUM_ARGS
from tests.factories import make_member, make_project, make_repository, make_user

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"),
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "browser-pass-word-123"
# Registered before any page script runs; the browser fires it for every blocked script, style or request.
COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) =>
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample}`));
"""


def test_no_page_breaks_the_policy(live_server, settings):
    host = urlsplit(live_server.url).hostname
    if host not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    root = make_user("root", staff=True, password=PASSWORD)
    root.is_superuser = True
    root.save()
    project = make_project()
    make_member(root, project, Role.OWNER)
    repository = make_repository(project, "app")
    pages = ["/", f"/projects/{project.pk}/", f"/repositories/{repository.pk}/", "/admin/",
             f"/admin/console/repository/{repository.pk}/change/", "/admin/console/syncrun/", "/api/docs/"]

    violations: dict[str, list[str]] = {}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.add_init_script(COLLECT_VIOLATIONS)
            page.goto(f"{live_server.url}/accounts/login/")
            page.get_by_label("Username").fill("root")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server.url}/")
            for path in pages:
                page.goto(live_server.url + path)
                page.wait_for_load_state("networkidle")
                if path == "/api/docs/":
                    # Swagger UI ran (its start-up script is a file) and drew the API's operations.
                    sync_api.expect(page.locator(".opblock").first).to_be_visible()
                violations[path] = page.evaluate("window.__violations")
        finally:
            browser.close()
    assert violations == {path: [] for path in pages}
