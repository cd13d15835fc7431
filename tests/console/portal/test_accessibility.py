"""Accessibility in a real browser: axe-core finds no critical or serious violation on any portal page or
the main admin pages, at desktop width and at 390 px, and no page scrolls sideways on a phone; keyboard
users get a skip link, a visible focus and the focus on the first error after a failed submit."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from django.utils import timezone

from console.models import (
    Cluster,
    ContainerRegistry,
    Deployment,
    NotificationDelivery,
    NotificationTarget,
    ProvisioningRun,
    RefChange,
    RegistryWatchRun,
    Role,
    RunStatus,
    SyncRun,
    TagPolicy,
    WatchedImage,
)
from tests.console.portal.axe_support import DESKTOP, PHONE, overflow, shoot, violations
from tests.console.portal.browser_support import CHROMIUM, CHROMIUM_ARGS
from tests.factories import make_member, make_organization, make_project, make_repository, make_user

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
)

PASSWORD = "axe-pass-word-123"


@pytest.fixture
def platform(db):
    """An admin who owns acme/shop: an application and an infra repository with a history of syncs."""
    admin = make_user("olivia", password=PASSWORD, staff=True)
    admin.is_superuser = True
    admin.save()
    project = make_project(make_organization("acme", owner=admin), "shop")
    make_member(make_user("rita"), project, Role.READER)
    app = make_repository(
        project, "payments-backend",
        external_url="https://git.example.com/a-long-group-name/another-subgroup/payments-backend.git",
        internal_path="dso/acme/shop/payments-backend",
        internal_url="http://127.0.0.1:8001/git/dso/acme/shop/payments-backend.git",
        image_name="registry.example.com/acme/payments-backend",
    )
    infra = make_repository(project, "deploy", is_infra=True, deploy_kind="helm", deploy_path="chart",
                            helm_value_files=["values.yaml"])
    for status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.NO_CHANGE):
        run = SyncRun.objects.create(repository=app, trigger="portal", status=status, actor=admin,
                                     error_code="authentication_failed" if status == "failed" else "",
                                     error_message="the token was refused" if status == "failed" else "")
        if status == RunStatus.SUCCEEDED:
            RefChange.objects.create(sync_run=run, ref="refs/heads/main", old_sha="a" * 40, new_sha="b" * 40,
                                     kind="updated")
    ProvisioningRun.objects.create(project=project, trigger="portal", status=RunStatus.SUCCEEDED,
                                   result={"commit": "c" * 40, "added": ["a.yaml"]})
    deployed_projects(project.organization)
    # The registries and notifications pages with something in every section: a watched image with a policy
    # and an error, a failed watch, a webhook and an e-mail target with deliveries.
    registry = ContainerRegistry.objects.create(project=project, name="main", url="https://registry.example.com",
                                                token="t")
    image = WatchedImage.objects.create(registry=registry, repository="acme/payments-backend",
                                        last_error="manifest unknown", last_error_code="not_found")
    TagPolicy.objects.create(image=image, repository=infra, constraint="~1.4", selected_tag="1.4.2",
                             outcome="waiting for a bump")
    RegistryWatchRun.objects.create(registry=registry, trigger="schedule", status=RunStatus.FAILED,
                                    error_message="acme/payments-backend: manifest unknown")
    hook = NotificationTarget.objects.create(project=project, kind="webhook", url="https://hooks.example.com/dso",
                                             secret="s")
    NotificationTarget.objects.create(project=project, kind="email", emails=["ops@example.com"], enabled=False)
    NotificationDelivery.objects.create(target=hook, event="sync_failed", status="failed", attempts=5,
                                        response_status=500, error="the webhook answered HTTP 500")
    NotificationDelivery.objects.create(target=hook, event="image_pinned", status="delivered", attempts=1,
                                        response_status=200)
    project.registry = registry  # portal_pages runs beside the browser's event loop, where the ORM may not
    return admin, project, app, infra


def deployed_projects(organization) -> None:
    """Projects on a cluster in each deployment health, so every badge the dashboard can show is checked."""
    cluster = Cluster.objects.create(name="prod", api_url="https://127.0.0.1:6443", token="axe-token")
    now = timezone.now()
    states = [("web", "Synced", "Healthy", True), ("api", "OutOfSync", "Healthy", True),
              ("jobs", "Synced", "Progressing", True), ("batch", "", "", False),
              ("mail", "Synced", "Degraded", True), ("cron", "Unknown", "Suspended", True)]
    for slug, sync, health, found in states:
        deployed = make_project(organization, slug, cluster=cluster)
        repository = make_repository(deployed, "deploy", is_infra=True, deploy_kind="helm")
        Deployment.objects.create(repository=repository, project=deployed, cluster_name="prod",
                                  application=f"acme-{slug}-deploy", argocd_namespace="argocd", found=found,
                                  sync_status=sync, health_status=health, observed_at=now, checked_at=now)
    make_repository(make_project(organization, "never", cluster=cluster), "deploy", is_infra=True,
                    deploy_kind="helm")


def portal_pages(project, app, infra) -> dict[str, str]:
    return {
        "home": "/",
        "dashboard": "/dashboard/",
        "operations": "/operations/",
        "api-tokens": "/tokens/",
        "organization": "/organizations/acme/?find=ri",
        "organization-new": "/organizations/new/",
        "project-new": "/projects/new/",
        "project": f"/projects/{project.pk}/",
        "manifests": f"/projects/{project.pk}/manifests/",
        "repository": f"/repositories/{app.pk}/",
        "repository-infra": f"/repositories/{infra.pk}/",
        "repository-syncs": f"/repositories/{app.pk}/syncs/",
        "repository-edit": f"/repositories/{app.pk}/edit/",
        "repository-remove": f"/repositories/{app.pk}/remove/",
        "registries": f"/projects/{project.pk}/registries/",
        "registry-edit": f"/projects/{project.pk}/registries/{project.registry.pk}/edit/",
        "notifications": f"/projects/{project.pk}/notifications/",
    }


ADMIN_PAGES = {
    "admin": "/admin/",
    "admin-projects": "/admin/console/project/",
    "admin-syncs": "/admin/console/syncrun/",
}


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def allow_host(live_server, settings):
    host = urlsplit(live_server.url).hostname
    if host not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]


def signed_in(browser, base: str, viewport: dict, username: str = "olivia"):
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    return page


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_serious_violation_on_any_page(platform, live_server, settings, browser, viewport, tmp_path):
    admin, project, app, infra = platform
    allow_host(live_server, settings)
    width = "desktop" if viewport is DESKTOP else "phone"
    found, wide = {}, {}

    login = browser.new_context(viewport=viewport).new_page()
    login.goto(f"{live_server.url}/accounts/login/")
    found["login"] = violations(login)
    page = signed_in(browser, live_server.url, viewport)
    for name, path in {**portal_pages(project, app, infra), **ADMIN_PAGES}.items():
        page.goto(f"{live_server.url}{path}")
        if name == "repository":
            page.locator("#ci-triggers summary").click()  # the collapsed CI section is checked open too
        found[name] = violations(page)
        if viewport is PHONE and not name.startswith("admin"):
            wide[name] = overflow(page)
        if name in ("dashboard", "project", "repository", "operations", "admin-projects"):
            shoot(page, f"{name}-{width}", tmp_path)

    assert {name: v for name, v in found.items() if v} == {}
    assert {name: w for name, w in wide.items() if w} == {}


def test_the_phone_layout_keeps_status_and_sync_in_view(platform, live_server, settings, browser):
    admin, project, app, infra = platform
    allow_host(live_server, settings)
    page = signed_in(browser, live_server.url, PHONE)
    page.goto(f"{live_server.url}/projects/{project.pk}/")

    row = page.locator("#repositories tbody tr", has_text="payments-backend")
    for element in (row.locator(".badge").first, row.get_by_role("button", name="Sync")):
        box = element.bounding_box()
        assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], box
    url = row.locator("a.url").first.bounding_box()
    assert url["width"] > 200, "the external URL wraps over the row's width, not one character per line"


def test_keyboard_skip_link_focus_ring_and_first_error(platform, live_server, settings, browser):
    admin, project, app, infra = platform
    allow_host(live_server, settings)
    page = signed_in(browser, live_server.url, DESKTOP)
    page.goto(f"{live_server.url}/organizations/new/")

    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.text_content() == "Skip to content" and skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    page.keyboard.press("Tab")
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert ring == "solid"

    page.locator("#id_slug").fill("Not A Slug")
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_load_state()
    focused = page.evaluate("[document.activeElement.id, document.activeElement.getAttribute('aria-invalid'),"
                            " document.activeElement.getAttribute('aria-describedby')]")
    assert focused[:2] == ["id_slug", "true"]
    for described in focused[2].split():
        assert page.locator(f"#{described}").count() == 1, described
    assert violations(page) == []
