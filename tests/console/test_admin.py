"""The admin's actions call the same services as every other interface, and its edits are audited."""

from __future__ import annotations

import html

import pytest
from django.test import Client

from console.models import AuditEvent, ProvisioningRun, Repository, SyncRun
from tests.factories import make_project, make_repository, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(monkeypatch):
    stand_in(monkeypatch, "sync", lambda run_id: None)
    stand_in(monkeypatch, "provisioning", lambda run_id: None)
    admin = make_user("root", staff=True)
    admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    return client


def test_sync_action_queues_through_the_service_and_joins(admin_client):
    repository = make_repository(make_project())
    for _ in range(2):
        response = admin_client.post("/admin/console/repository/",
                                     {"action": "sync", "_selected_action": [repository.pk]}, follow=True)
        assert response.status_code == 200
    run = SyncRun.objects.get(repository=repository)
    assert run.trigger == "admin"
    assert run.joined_requests == 1
    assert "joined sync" in response.content.decode()


def test_reprovision_action(admin_client):
    project = make_project()
    admin_client.post("/admin/console/project/", {"action": "reprovision", "_selected_action": [project.pk]})
    assert ProvisioningRun.objects.get(project=project).trigger == "admin"


def test_repository_change_page_never_shows_the_token_and_edits_are_audited(admin_client):
    repository = make_repository(make_project(), is_private=True, username="ci", token="admin-secret-value")
    page = admin_client.get(f"/admin/console/repository/{repository.pk}/change/")
    assert page.status_code == 200
    assert "admin-secret-value" not in page.content.decode()
    form = page.context["adminform"].form
    data = {name: form.initial.get(name, "") for name in form.fields}
    data.update({"project": repository.project_id, "name": repository.name, "external_url": repository.external_url,
                 "is_private": "on", "username": "ci-bot", "token": "", "deploy_kind": "", "deploy_path": ".",
                 "deploy_revision": "HEAD", "helm_value_files": "[]", "ci_allowed_project_paths": "[]",
                 "ci_protected_refs_only": "on"})
    data = {k: v for k, v in data.items() if v is not None and v is not False}
    data["image_name"] = "registry.example.com/team/app"  # one real change, so the service records it
    response = admin_client.post(f"/admin/console/repository/{repository.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    repository.refresh_from_db()
    assert repository.token == "admin-secret-value"  # an empty field keeps the stored secret
    assert repository.username == "ci-bot"
    # The admin edits through the same service as the portal and the API.
    event = AuditEvent.objects.get(action="repository.update")
    assert event.interface == "admin"
    assert event.after["changed"] == ["username", "image_name"]
    assert "admin-secret-value" not in str(event.before) + str(event.after)


def test_run_history_is_read_only_in_the_admin(admin_client):
    run = SyncRun.objects.create(repository=make_repository(make_project()), trigger="api")
    assert admin_client.get("/admin/console/syncrun/add/").status_code == 403
    page = admin_client.get(f"/admin/console/syncrun/{run.pk}/change/")
    assert page.status_code == 200
    assert admin_client.get("/admin/console/syncrun/?status__exact=queued&q=repo").status_code == 200


def test_a_failed_image_scan_is_listed_filterable_and_its_reason_shown(admin_client):
    repository = make_repository(make_project(), is_infra=True, deploy_kind="helm")
    failed = SyncRun.objects.create(repository=repository, trigger="api", status="succeeded",
                                    image_scan_status="failed",
                                    image_scan={"error": "deploy revision 'v9' does not exist", "code": "revision_not_found"})
    other = SyncRun.objects.create(repository=repository, trigger="api", status="no_change",
                                   image_scan_status="unchanged")

    listed = admin_client.get("/admin/console/syncrun/?image_scan_status__exact=failed").content.decode()
    detail = html.unescape(admin_client.get(f"/admin/console/syncrun/{failed.pk}/change/").content.decode())

    assert '<td class="field-image_scan_status">image scan failed</td>' in listed
    assert f"/admin/console/syncrun/{failed.pk}/change/" in listed
    assert f"/admin/console/syncrun/{other.pk}/change/" not in listed
    assert "deploy revision 'v9' does not exist" in detail


def test_run_history_offers_no_delete(admin_client):
    sync = SyncRun.objects.create(repository=make_repository(make_project()), trigger="ci")
    provisioning = ProvisioningRun.objects.create(project=make_project(), trigger="api")

    for model, run in (("syncrun", sync), ("provisioningrun", provisioning)):
        listing = admin_client.get(f"/admin/console/{model}/").content.decode()
        assert 'value="delete_selected"' not in listing and "Delete selected" not in listing
        assert admin_client.get(f"/admin/console/{model}/{run.pk}/delete/").status_code == 403
        admin_client.post(f"/admin/console/{model}/", {"action": "delete_selected", "_selected_action": [run.pk],
                                                       "post": "yes"})
    assert SyncRun.objects.filter(pk=sync.pk).exists() and ProvisioningRun.objects.filter(pk=provisioning.pk).exists()


def test_labels_read_as_written(admin_client):
    repository = make_repository(make_project())
    SyncRun.objects.create(repository=repository, trigger="ci", status="succeeded")
    SyncRun.objects.create(repository=repository, trigger="api", status="failed")

    runs = admin_client.get("/admin/console/syncrun/").content.decode()
    assert "GitLab CI" in runs and "API" in runs
    assert ">Ci<" not in runs and ">Api<" not in runs
    change = admin_client.get(f"/admin/console/repository/{repository.pk}/change/").content.decode()
    assert "CI allowed project paths" in change and "Ci allowed project paths" not in change


def test_action_messages_keep_the_path_lowercase(admin_client):
    from tests.factories import make_organization

    project = make_project(make_organization("acme"), "shop")

    page = admin_client.post("/admin/console/project/", {"action": "reprovision", "_selected_action": [project.pk]},
                             follow=True).content.decode()

    assert "Project acme/shop: queued provisioning run #" in page
    assert "Acme/shop" not in page
    run = ProvisioningRun.objects.get(project=project)
    assert run.cause == "admin"
    listing = admin_client.get("/admin/console/provisioningrun/").content.decode()
    assert "admin action" in listing


def test_deleting_a_repository_in_the_admin_removes_it_through_the_service(admin_client):
    repository = make_repository(make_project(), "api", internal_path="dso/org/proj/api")
    SyncRun.objects.create(repository=repository, trigger="api", status="succeeded")

    confirm = admin_client.get(f"/admin/console/repository/{repository.pk}/delete/")
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    page = admin_client.post(f"/admin/console/repository/{repository.pk}/delete/", {"post": "yes"},
                             follow=True).content.decode()

    assert not Repository.objects.filter(pk=repository.pk).exists()
    run = ProvisioningRun.objects.get(project=repository.project)
    assert run.cause == "repository_removed" and run.trigger == "admin"
    assert f"archives its internal mirror" in page
    assert AuditEvent.objects.get(action="repository.remove").interface == "admin"
    make_repository(repository.project, "other")
    listing = admin_client.get("/admin/console/repository/").content.decode()
    assert 'value="delete_selected"' not in listing and "Remove selected repositories" in listing


def repository_form_data(repository, **changes) -> dict:
    data = {"project": repository.project_id, "name": repository.name, "external_url": repository.external_url,
            "username": repository.username, "token": "", "deploy_kind": "", "deploy_path": ".",
            "deploy_revision": "HEAD", "helm_value_files": "[]", "ci_allowed_project_paths": "[]",
            "ci_protected_refs_only": "on", "image_name": ""}
    if repository.is_private:
        data["is_private"] = "on"
    data.update(changes)
    return data


# What the admin's project form shows pre-filled (the platform defaults), as a browser submits it.
QUOTA_FORM = {"quota_cpu": "8", "quota_memory": "16Gi", "quota_storage": "50Gi", "quota_pods": "50",
              "quota_services": "20"}  # fmt: skip
LIMITS_FORM = {"quota_limit_cpu": "32", "quota_limit_memory": "64Gi", "quota_limit_storage": "500Gi",
               "quota_limit_pods": "200", "quota_limit_services": "100", "memberships-TOTAL_FORMS": "0",
               "memberships-INITIAL_FORMS": "0"}  # fmt: skip


def test_platform_admins_set_organization_limits_and_projects_stay_within_them(admin_client):
    from console.models import Organization

    project = make_project(status="ready")
    organization = project.organization
    url = f"/admin/console/organization/{organization.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    limits = {**LIMITS_FORM, f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    lowered = admin_client.post(url, {"name": "Org", **limits, "quota_limit_cpu": "4"})
    assert lowered.status_code == 200  # the form again, with the reason next to the field
    assert f"project {project.slug} already has more" in html.unescape(lowered.content.decode())
    assert Organization.objects.get(pk=organization.pk).quota_limit_cpu == "32"  # the project has 8

    raised = admin_client.post(url, {"name": "Org", **limits, "quota_limit_cpu": "64000m"})
    assert raised.status_code == 302, raised.content.decode()[:3000]
    assert Organization.objects.get(pk=organization.pk).quota_limit_cpu == "64"
    assert AuditEvent.objects.filter(action="organization.quota_limits", interface="admin").count() == 1

    over = admin_client.post(f"/admin/console/project/{project.pk}/change/", {
        "name": project.name, "description": "", **QUOTA_FORM, "quota_cpu": "65",
    })
    assert "exceeds the organization&#x27;s limit of 64" in over.content.decode()
    changed = admin_client.post(f"/admin/console/project/{project.pk}/change/", {
        "name": project.name, "description": "", **QUOTA_FORM, "quota_cpu": "64",
    })
    assert changed.status_code == 302
    assert ProvisioningRun.objects.get(project=project).cause == "quota_changed"


def test_adding_a_project_in_the_admin_provisions_it_like_the_portal(admin_client):
    from console.models import Organization, Project

    organization = Organization.objects.create(slug="acme", name="ACME")
    response = admin_client.post("/admin/console/project/add/", {
        "organization": organization.pk, "slug": "shop", "name": "Shop", "description": "", **QUOTA_FORM,
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    project = Project.objects.get(slug="shop")
    assert project.namespace == "acme-shop"
    assert ProvisioningRun.objects.get(project=project).trigger == "admin"
    assert AuditEvent.objects.filter(action="project.create", interface="admin").count() == 1


def test_a_project_slug_cannot_be_changed_in_the_admin(admin_client):
    """Renaming would leave the namespace, forge group and Argo CD objects under the old name."""
    project = make_project(slug="shop")
    page = admin_client.get(f"/admin/console/project/{project.pk}/change/")
    assert "slug" not in page.context["adminform"].form.fields
    response = admin_client.post(f"/admin/console/project/{project.pk}/change/", {
        "organization": project.organization_id, "slug": "renamed", "name": "New name", "description": "",
        **QUOTA_FORM,
    })
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.slug, project.name) == ("shop", "New name")
    assert AuditEvent.objects.get(action="project.update").interface == "admin"


def test_the_admin_keeps_the_new_host_token_guard(admin_client):
    """Pointing a repository at another host must not send it the stored token (repository_update's rule)."""
    repository = make_repository(make_project(), is_private=True, username="ci", token="stored-token-value")
    url = f"/admin/console/repository/{repository.pk}/change/"
    moved = repository_form_data(repository, external_url="https://evil.example.org/team/app.git")
    response = admin_client.post(url, moved, follow=True)
    assert "needs its token again" in response.content.decode()
    repository.refresh_from_db()
    assert repository.external_url == "https://git.example.com/team/app.git"
    assert not AuditEvent.objects.filter(action="repository.update").exists()
    # With a new token for the new host it is saved.
    response = admin_client.post(url, {**moved, "token": "token-for-the-new-host"})
    assert response.status_code == 302
    repository.refresh_from_db()
    assert repository.external_url == "https://evil.example.org/team/app.git"
    assert repository.token == "token-for-the-new-host"


def test_admins_revoke_api_tokens_but_never_see_or_make_them(admin_client):
    from rest_framework.test import APIClient

    from console.models import ApiToken

    make_user("alice")
    secret = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": "pass-word-123"}).json()["token"]
    token = ApiToken.objects.get()
    assert admin_client.get("/admin/console/apitoken/add/").status_code == 403
    assert secret not in admin_client.get(f"/admin/console/apitoken/{token.pk}/change/").content.decode()
    admin_client.post("/admin/console/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.get(action="api_token.revoke").interface == "admin"
