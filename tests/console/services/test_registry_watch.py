"""The registry watch end to end: a real registry on loopback (pushed to over its HTTP API), a real infra
repository, tag policies selecting new tags, warnings with a one-click bump by default, automatic bumps when
asked, pins winning over both, and token auth with the token encrypted at rest."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from console.models import ContainerRegistry, DiscoveredTag, RegistryWatchRun, RunStatus, TagPolicy, Trigger
from console.models.images import ImageBump
from console.services.actors import Actor
from console.services.errors import DomainError
from console.services.images import redeploy_warnings
from console.services.pins import image_pin
from console.services.registries import registry_register, tag_policy_set
from console.services.registry_watch import registry_watch_execute, registry_watch_request, registry_watch_sweep
from console.services.repositories import repository_register
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.console.services.test_images import project  # noqa: F401 - fixture
from tests.support.enqueue import stand_in
from tests.support.gitrepos import git

pytestmark = pytest.mark.django_db

VALUES = """image:
  repository: {image}
  tag: "{tag}"
"""


@pytest.fixture
def watched(monkeypatch):
    stand_in(monkeypatch, "registry_watch",
             lambda run_id: registry_watch_execute(run_id=run_id, task_id=f"watch-{run_id}"))


def infra_repository(project, external_forge, capture, image):  # noqa: F811
    infra = external_forge.create("deploy", {"chart/values.yaml": VALUES.format(image=image, tag="1.4.0")})
    with capture(execute=True):
        repository = repository_register(
            actor=project.actor, project=project, name="deploy", external_url=external_forge.url("deploy"),
            is_infra=True, deploy_kind="helm", deploy_path="chart", username="ci", token=external_forge.token)
    repository.infra = infra
    return repository


def watch(registry, capture) -> RegistryWatchRun:
    with capture(execute=True):
        run = registry_watch_request(actor=Actor.system(), registry=registry, trigger=Trigger.API).run
    run.refresh_from_db()
    return run


def deployed(repository) -> str:
    return git("show", "main:chart/values.yaml", cwd=repository.infra.bare).split('tag: "')[1].split('"')[0]


def test_new_tags_are_discovered_and_the_policy_opens_a_warning_with_a_one_click_bump(
        project, external_forge, oci_registry, watched, django_capture_on_commit_callbacks):  # noqa: F811
    capture = django_capture_on_commit_callbacks
    image = f"{oci_registry.url.removeprefix('http://')}/team/app"
    deploy = infra_repository(project, external_forge, capture, image)
    digests = {tag: oci_registry.push("team/app", tag) for tag in ("1.4.0", "1.4.3", "1.5.0", "1.4.9-rc.1")}
    registry = registry_register(actor=project.actor, project=project, name="main", url=oci_registry.url,
                                 images=["team/app"])
    tag_policy_set(actor=project.actor, image=registry.images.get(), repository=deploy, kind="semver",
                   constraint="~1.4")

    run = watch(registry, capture)
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert dict(DiscoveredTag.objects.values_list("tag", "digest")) == digests
    assert run.result["selected"] == [{"image": image, "repository": "deploy", "tag": "1.4.3",
                                       "outcome": "waiting for a bump"}]
    [warning] = redeploy_warnings(project)
    assert warning["tag"] == "1.4.3" and warning["source"] == "registry"
    assert warning["bump_candidates"][0]["current_tag"] == "1.4.0"
    assert not ImageBump.objects.exists()  # a warning, not a bump: automatic bumps are opt-in

    # Nothing new: a recorded no-op that asks the registry for the tag list only.
    again = watch(registry, capture)
    assert again.status == RunStatus.NO_CHANGE and again.result["requests"] == 1

    oci_registry.push("team/app", "1.4.5")
    assert watch(registry, capture).result["selected"][0]["tag"] == "1.4.5"
    [warning] = redeploy_warnings(project)
    assert warning["tag"] == "1.4.5"


def test_automatic_bumps_push_the_selected_tag_and_a_pin_stops_them(
        project, external_forge, oci_registry, watched, django_capture_on_commit_callbacks):  # noqa: F811
    capture = django_capture_on_commit_callbacks
    image = f"{oci_registry.url.removeprefix('http://')}/team/app"
    deploy = infra_repository(project, external_forge, capture, image)
    oci_registry.push("team/app", "1.4.0")
    oci_registry.push("team/app", "1.4.6")
    registry = registry_register(actor=project.actor, project=project, name="main", url=oci_registry.url,
                                 images=["team/app"])
    tag_policy_set(actor=project.actor, image=registry.images.get(), repository=deploy, kind="semver",
                   constraint=">=1.4 <2", auto_bump=True)

    run = watch(registry, capture)
    assert run.result["selected"][0]["outcome"].startswith("bump #")
    bump = ImageBump.objects.get()
    assert bump.status == RunStatus.SUCCEEDED and bump.trigger_detail["by"] == "registry-watch"
    assert deployed(deploy) == "1.4.6"

    image_pin(actor=project.actor, repository=deploy, image=image, tag="1.4.6", reason="load test running")
    oci_registry.push("team/app", "1.4.7")
    run = watch(registry, capture)
    assert run.result["selected"][0]["outcome"] == \
        "waiting: image pinned at 1.4.6 by alice because load test running"
    assert ImageBump.objects.count() == 1 and deployed(deploy) == "1.4.6"
    [warning] = redeploy_warnings(project)
    assert warning["tag"] == "1.4.7" and warning["bump_candidates"][0]["pinned"]["tag"] == "1.4.6"


def test_latest_build_and_regex_policies(project, external_forge, oci_registry, watched,
                                         django_capture_on_commit_callbacks):  # noqa: F811
    capture = django_capture_on_commit_callbacks
    image = f"{oci_registry.url.removeprefix('http://')}/team/app"
    deploy = infra_repository(project, external_forge, capture, image)
    at = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    oci_registry.push("team/app", "main-aaa", created=at + dt.timedelta(hours=2))
    oci_registry.push("team/app", "main-bbb", created=at)
    oci_registry.push("team/app", "build-12", created=at)
    oci_registry.push("team/app", "build-9", created=at + dt.timedelta(hours=5))
    registry = registry_register(actor=project.actor, project=project, name="main", url=oci_registry.url,
                                 images=["team/app"])
    policy = tag_policy_set(actor=project.actor, image=registry.images.get(), repository=deploy,
                            kind="latest_build", pattern="^main-")
    assert watch(registry, capture).result["selected"][0]["tag"] == "main-aaa"
    assert DiscoveredTag.objects.get(tag="main-aaa").created == at + dt.timedelta(hours=2)
    tag_policy_set(actor=project.actor, image=registry.images.get(), repository=deploy, kind="regex",
                   pattern=r"^build-(?P<sort>\d+)$")
    oci_registry.push("team/app", "build-10", created=at)
    assert watch(registry, capture).result["selected"][0]["tag"] == "build-12"
    assert TagPolicy.objects.get(pk=policy.pk).selected_tag == "build-12"


def test_token_auth_with_the_token_encrypted_at_rest(project, external_forge, oci_registry_token, watched,
                                                     django_capture_on_commit_callbacks):  # noqa: F811
    capture = django_capture_on_commit_callbacks
    registry_server = oci_registry_token
    registry_server.issuer.users["robot"] = "registry-token-4f9c2e"
    registry_server.push("team/app", "1.0.0")
    registry = registry_register(actor=project.actor, project=project, name="private", url=registry_server.url,
                                 username="robot", token="registry-token-4f9c2e", images=["team/app"])
    run = watch(registry, capture)
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert DiscoveredTag.objects.filter(tag="1.0.0").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM console_containerregistry WHERE id = %s", [registry.pk])
        stored = cursor.fetchone()[0]
    assert stored and "registry-token-4f9c2e" not in stored
    assert ContainerRegistry.objects.get(pk=registry.pk).token == "registry-token-4f9c2e"

    ContainerRegistry.objects.filter(pk=registry.pk).update(token="")
    registry.refresh_from_db()
    failed = watch(registry, capture)
    assert failed.status == RunStatus.FAILED and failed.error_code == "registry_auth_failed", failed.error_message
    assert registry.images.get().last_error_code == "registry_auth_failed"
    assert "registry-token-4f9c2e" not in str(failed.result) + failed.error_message


def test_registration_refuses_bad_input(project, oci_registry):  # noqa: F811
    with pytest.raises(DomainError) as refused:
        registry_register(actor=project.actor, project=project, name="x", url="ftp://registry", images=[])
    assert "url" in refused.value.message
    with pytest.raises(DomainError) as refused:
        registry_register(actor=project.actor, project=project, name="x", url=oci_registry.url,
                          images=["Team/App"])
    assert refused.value.code == "invalid_image_repository"


def test_the_beat_sweep_asks_each_due_registry_once(project, oci_registry, monkeypatch):  # noqa: F811
    stand_in(monkeypatch, "registry_watch", lambda run_id: None)
    registry = registry_register(actor=project.actor, project=project, name="main", url=oci_registry.url,
                                 images=["team/app"])
    registry_register(actor=project.actor, project=project, name="empty", url=oci_registry.url)
    assert registry_watch_sweep() == {"asked": 1}
    assert registry_watch_sweep() == {"asked": 0}  # asked recently: not due
    assert RegistryWatchRun.objects.get().registry == registry


def test_the_api_registers_a_registry_sets_a_policy_and_checks_it(project, external_forge, oci_registry, watched,
                                                                  django_capture_on_commit_callbacks,
                                                                  django_assert_num_queries):  # noqa: F811
    from rest_framework.test import APIClient

    capture = django_capture_on_commit_callbacks
    image = f"{oci_registry.url.removeprefix('http://')}/team/app"
    deploy = infra_repository(project, external_forge, capture, image)
    oci_registry.push("team/app", "1.4.1")
    client = APIClient()
    client.force_authenticate(project.actor.user)
    created = client.post(f"/api/v1/projects/{project.pk}/registries/",
                          {"name": "main", "url": oci_registry.url, "username": "robot", "token": "tok-9d8e7f",
                           "images": ["team/app"]}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["token_is_set"] is True and "tok-9d8e7f" not in created.content.decode()
    registry_id, image_id = body["id"], body["watched_images"][0]["id"]
    assert body["watched_images"][0]["reference"] == image
    refused = client.put(f"/api/v1/registries/{registry_id}/images/{image_id}/policy/",
                         {"repository": deploy.pk, "kind": "semver", "constraint": "~~1"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_tag_policy"
    policy = client.put(f"/api/v1/registries/{registry_id}/images/{image_id}/policy/",
                        {"repository": deploy.pk, "kind": "semver", "constraint": "~1.4"}, format="json")
    assert policy.status_code == 200, policy.content
    ContainerRegistry.objects.filter(pk=registry_id).update(token="")  # the loopback registry has no auth
    with capture(execute=True):
        answer = client.post(f"/api/v1/registries/{registry_id}/watch/")
    assert answer.status_code == 202
    assert RegistryWatchRun.objects.get(pk=answer.json()["id"]).status == RunStatus.SUCCEEDED
    registry_register(actor=project.actor, project=project, name="second", url=oci_registry.url,
                      images=["team/a", "team/b"])
    # The registries, their images and the images' policies: one query each, however many there are.
    with django_assert_num_queries(5):
        listed = client.get(f"/api/v1/projects/{project.pk}/registries/").json()
    assert [r["name"] for r in listed["results"]] == ["main", "second"]
    assert listed["results"][0]["watched_images"][0]["policies"][0]["selected_tag"] == "1.4.1"


def test_the_admin_lists_registries_without_their_token(client, project, oci_registry):  # noqa: F811
    from tests.factories import make_user

    root = make_user(staff=True)
    root.is_superuser = True
    root.save()
    registry = registry_register(actor=project.actor, project=project, name="main", url=oci_registry.url,
                                 username="robot", token="admin-never-shows-7c1d", images=["team/app"])
    client.force_login(root)
    for page in ("containerregistry/", f"containerregistry/{registry.pk}/change/", "tagpolicy/", "discoveredtag/",
                 "registrywatchrun/"):
        response = client.get(f"/admin/console/{page}")
        assert response.status_code == 200, page
        assert "admin-never-shows-7c1d" not in response.content.decode()
