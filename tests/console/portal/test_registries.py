"""The registries page: register, edit and remove a registry, watch and unwatch images, set tag policies and
ask a watch, through the same services as the API; refusals shown on their field; the token never shown."""

from __future__ import annotations

import re

import pytest

from console.models import AuditEvent, ContainerRegistry, RegistryWatchRun, Role, TagPolicy, WatchedImage
from tests.factories import make_member, make_repository, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db

TOKEN = "registry-token-7c1e5a"
URL = "http://127.0.0.1:5000"


@pytest.fixture(autouse=True)
def watches(monkeypatch) -> list[int]:
    asked: list[int] = []
    stand_in(monkeypatch, "registry_watch", asked.append)
    return asked


def field_error(html: str, field_id: str) -> str:
    """The messages tied to the input ``field_id``: it must say aria-invalid and point at them."""
    tag = re.search(rf'<(?:input|select)[^>]*id="{field_id}"[^>]*>', html)
    assert tag, f"no input {field_id}"
    assert 'aria-invalid="true"' in tag.group(0), tag.group(0)
    assert f'{field_id}-error' in re.search(r'aria-describedby="([^"]*)"', tag.group(0)).group(1)
    errors = re.search(rf'<div class="field-errors" id="{field_id}-error">(.*?)</div>', html, re.S)
    assert errors, f"no messages for {field_id}"
    return errors.group(1)


def register(client, project, **fields):
    data = {"registry-name": "main", "registry-url": URL, "registry-username": "robot", "registry-token": TOKEN,
            "registry-images": "team/app, team/worker"}
    data.update({f"registry-{key}": value for key, value in fields.items()})
    return client.post(f"/projects/{project.pk}/registries/", data)


def test_register_list_edit_and_remove_a_registry(client_for, user, owner_project):
    client = client_for(user)
    answer = register(client, owner_project)
    registry = ContainerRegistry.objects.get()
    assert answer.status_code == 302 and answer["Location"].endswith(f"#registry-{registry.pk}")
    assert registry.token == TOKEN and registry.username == "robot"
    assert sorted(registry.images.values_list("repository", flat=True)) == ["team/app", "team/worker"]

    page = client.get(f"/projects/{owner_project.pk}/registries/").content.decode()
    assert "127.0.0.1:5000/team/app" in page and "127.0.0.1:5000/team/worker" in page
    assert TOKEN not in page and ">set<" in page

    edit_url = f"/projects/{owner_project.pk}/registries/{registry.pk}/edit/"
    form = client.get(edit_url).content.decode()
    assert TOKEN not in form and f'value="{URL}"' in form
    # An empty token field keeps the stored token.
    saved = client.post(edit_url, {"registry-url": URL, "registry-username": "bot", "registry-token": ""})
    assert saved.status_code == 302
    registry.refresh_from_db()
    assert registry.username == "bot" and registry.token == TOKEN
    # A new URL with the stored token and no new one is refused on the token field, not sent elsewhere.
    moved = client.post(edit_url, {"registry-url": "http://127.0.0.1:5001", "registry-username": "bot",
                                   "registry-token": ""})
    assert moved.status_code == 400
    assert "needs its token again" in field_error(moved.content.decode(), "id_registry-token")
    registry.refresh_from_db()
    assert registry.url == URL
    dropped = client.post(edit_url, {"registry-url": "http://127.0.0.1:5001", "registry-username": "",
                                     "registry-drop_token": "on"})
    assert dropped.status_code == 302
    registry.refresh_from_db()
    assert registry.url == "http://127.0.0.1:5001" and registry.token == ""
    assert ">not set<" in client.get(f"/projects/{owner_project.pk}/registries/").content.decode()

    removed = client.post(f"/projects/{owner_project.pk}/registries/{registry.pk}/remove/")
    assert removed.status_code == 302
    assert not ContainerRegistry.objects.exists() and not WatchedImage.objects.exists()
    assert list(AuditEvent.objects.filter(action__startswith="registry.").values_list("action", flat=True)
                .order_by("id")) == ["registry.register", "registry.update", "registry.update", "registry.remove"]
    assert TOKEN not in str(list(AuditEvent.objects.values("before", "after")))


@pytest.mark.parametrize(("fields", "field_id", "message"), [
    ({"url": "http://registry.example.com"}, "id_registry-url", ""),
    ({"url": "not a url"}, "id_registry-url", ""),
    ({"name": "Not A Label"}, "id_registry-name", ""),
    ({"images": "Team/App"}, "id_registry-images", ""),
])
def test_bad_registrations_are_refused_on_their_field(client_for, user, owner_project, fields, field_id, message):
    answer = register(client_for(user), owner_project, **fields)
    assert answer.status_code == 400
    html = answer.content.decode()
    assert field_error(html, field_id).strip()
    assert TOKEN not in html  # not echoed back in the token field either
    assert not ContainerRegistry.objects.exists()


def test_a_second_registry_of_the_same_name_is_refused_on_the_name(client_for, user, owner_project):
    client = client_for(user)
    register(client, owner_project)
    answer = register(client, owner_project, url="http://127.0.0.1:5002")
    assert answer.status_code == 400
    assert "main" in field_error(answer.content.decode(), "id_registry-name")


def test_watch_images_set_policies_and_ask_a_watch(client_for, user, owner_project, watches,
                                                   django_capture_on_commit_callbacks):
    client = client_for(user)
    deploy = make_repository(owner_project, "deploy", is_infra=True, deploy_kind="helm")
    make_repository(owner_project, "app")
    register(client, owner_project, images="")
    registry = ContainerRegistry.objects.get()
    base = f"/projects/{owner_project.pk}/registries/{registry.pk}"

    refused = client.post(f"{base}/images/", {f"image-{registry.pk}-repository": "Bad/Name"})
    assert refused.status_code == 400
    assert field_error(refused.content.decode(), f"id_image-{registry.pk}-repository").strip()
    assert client.post(f"{base}/images/", {f"image-{registry.pk}-repository": "team/app"}).status_code == 302
    image = WatchedImage.objects.get()

    prefix = f"policy-{image.pk}"
    policy_url = f"{base}/images/{image.pk}/policy/"
    page = client.get(f"/projects/{owner_project.pk}/registries/").content.decode()
    # Only infra repositories can be chosen.
    assert f'<option value="{deploy.pk}">deploy</option>' in page and ">app</option>" not in page
    bad_range = client.post(policy_url, {f"{prefix}-repository": deploy.pk, f"{prefix}-kind": "semver",
                                         f"{prefix}-constraint": "~~1", f"{prefix}-mode": "warn"})
    assert bad_range.status_code == 400
    assert "version range" in field_error(bad_range.content.decode(), f"id_{prefix}-constraint")
    bad_regex = client.post(policy_url, {f"{prefix}-repository": deploy.pk, f"{prefix}-kind": "regex",
                                         f"{prefix}-pattern": "^build-(", f"{prefix}-mode": "warn"})
    assert bad_regex.status_code == 400
    assert "regular expression" in field_error(bad_regex.content.decode(), f"id_{prefix}-pattern")
    no_capture = client.post(policy_url, {f"{prefix}-repository": deploy.pk, f"{prefix}-kind": "regex",
                                          f"{prefix}-pattern": "^build-\\d+$", f"{prefix}-mode": "warn"})
    assert "capture" in field_error(no_capture.content.decode(), f"id_{prefix}-pattern")
    assert not TagPolicy.objects.exists()

    saved = client.post(policy_url, {f"{prefix}-repository": deploy.pk, f"{prefix}-kind": "semver",
                                     f"{prefix}-constraint": "~1.4", f"{prefix}-include_prereleases": "on",
                                     f"{prefix}-mode": "auto"})
    assert saved.status_code == 302
    policy = TagPolicy.objects.get()
    assert (policy.repository, policy.kind, policy.constraint, policy.include_prereleases, policy.auto_bump) == (
        deploy, "semver", "~1.4", True, True)
    # Set again for the same repository: replaced, not added.
    client.post(policy_url, {f"{prefix}-repository": deploy.pk, f"{prefix}-kind": "latest_build",
                             f"{prefix}-mode": "warn"})
    policy = TagPolicy.objects.get()
    assert (policy.kind, policy.auto_bump, policy.include_prereleases) == ("latest_build", False, False)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{base}/watch/").status_code == 302
    run = RegistryWatchRun.objects.get()
    assert watches == [run.pk] and run.trigger == "portal"
    RegistryWatchRun.objects.filter(pk=run.pk).update(status="failed", error_message="the registry said 503")
    WatchedImage.objects.filter(pk=image.pk).update(last_error="manifest unknown", last_error_code="not_found")
    page = client.get(f"/projects/{owner_project.pk}/registries/").content.decode()
    assert "the registry said 503" in page and "manifest unknown" in page
    assert "newest build</td>" in page and "<code>~1.4</code>" not in page

    assert client.post(f"{base}/images/{image.pk}/remove/").status_code == 302
    assert not WatchedImage.objects.exists() and not TagPolicy.objects.exists()


def test_readers_see_the_registries_and_cannot_change_them(client_for, user, owner_project, watches):
    register(client_for(user), owner_project)
    registry = ContainerRegistry.objects.get()
    image = registry.images.first()
    deploy = make_repository(owner_project, "deploy", is_infra=True, deploy_kind="helm")
    reader = make_user("rita")
    make_member(reader, owner_project, Role.READER)
    client = client_for(reader)
    page = client.get(f"/projects/{owner_project.pk}/registries/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "127.0.0.1:5000/team/app" in html and TOKEN not in html
    assert "Watch now" not in html and "Register a container registry" not in html
    base = f"/projects/{owner_project.pk}/registries/{registry.pk}"
    for url, data in [
        (f"/projects/{owner_project.pk}/registries/", {"registry-name": "x", "registry-url": URL}),
        (f"{base}/edit/", {}),
        (f"{base}/remove/", {}),
        (f"{base}/watch/", {}),
        (f"{base}/images/", {f"image-{registry.pk}-repository": "team/other"}),
        (f"{base}/images/{image.pk}/remove/", {}),
        (f"{base}/images/{image.pk}/policy/", {f"policy-{image.pk}-repository": deploy.pk}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert client.get(f"{base}/edit/").status_code == 403
    assert ContainerRegistry.objects.count() == 1 and WatchedImage.objects.count() == 2
    assert not TagPolicy.objects.exists() and not RegistryWatchRun.objects.exists()
    # Outside the project the registry does not exist.
    assert client_for(make_user("stranger")).get(f"/projects/{owner_project.pk}/registries/").status_code == 404


def test_a_registry_of_another_project_is_not_found_through_this_one(client_for, user, owner_project):
    from tests.factories import make_project

    client = client_for(user)
    register(client, owner_project)
    registry = ContainerRegistry.objects.get()
    other = make_project(owner_project.organization, "other")
    assert client.post(f"/projects/{other.pk}/registries/{registry.pk}/remove/").status_code == 404
    assert ContainerRegistry.objects.exists()


def test_the_pages_are_in_french(client_for, user, owner_project):
    client = client_for(user)
    register(client, owner_project)
    page = client.get(f"/projects/{owner_project.pk}/registries/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Registres de conteneurs" in page and "Surveiller maintenant" in page


def test_the_api_edits_and_removes_through_the_same_services(user, owner_project):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    created = api.post(f"/api/v1/projects/{owner_project.pk}/registries/",
                       {"name": "main", "url": URL, "token": TOKEN, "images": ["team/app"]}, format="json").json()
    moved = api.patch(f"/api/v1/registries/{created['id']}/", {"url": "http://127.0.0.1:5001"}, format="json")
    assert moved.status_code == 400 and moved.json()["code"] == "token_required_for_new_url"
    kept = api.patch(f"/api/v1/registries/{created['id']}/", {"url": URL, "username": "bot"}, format="json")
    assert kept.status_code == 200 and kept.json()["token_is_set"] is True and TOKEN not in kept.content.decode()
    image_id = created["watched_images"][0]["id"]
    assert api.delete(f"/api/v1/registries/{created['id']}/images/{image_id}/").status_code == 204
    assert not WatchedImage.objects.exists()
    assert api.delete(f"/api/v1/registries/{created['id']}/").status_code == 204
    assert not ContainerRegistry.objects.exists()
