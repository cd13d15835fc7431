"""Rollbacks that stick, end to end on real git: roll back (a bump plus a pin), CI and automatic bumps refused
with 409 while pinned, the warning saying so, one-action unpin, audit events, and the API and portal."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.models import AuditEvent, ImagePin, RunStatus, Trigger
from console.models.images import ImageBump
from console.services.actors import Actor
from console.services.ci_tokens import ci_token_create
from console.services.errors import PermissionDenied
from console.services.image_bumps import image_tag_bump_request
from console.services.images import redeploy_warnings
from console.services.pins import ImagePinned, image_pin, image_rollback, image_unpin
from console.services.repositories import repository_register
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.console.services.test_images import VALUES, project  # noqa: F401 - fixtures
from tests.factories import make_member, make_user
from tests.support.gitrepos import git

pytestmark = pytest.mark.django_db

IMAGE = "registry.example.com/acme/shop-backend"


@pytest.fixture
def deploy(project, external_forge, django_capture_on_commit_callbacks):  # noqa: F811
    infra = external_forge.create("deploy", {"chart/values.yaml": VALUES.format(tag="1.0.0", worker="0.1")})
    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(
            actor=project.actor, project=project, name="deploy", external_url=external_forge.url("deploy"),
            is_infra=True, deploy_kind="helm", deploy_path="chart", username="ci", token=external_forge.token,
        )
    repository.infra = infra
    return repository


def bump(actor, repository, tag, capture, **fields):
    with capture(execute=True):
        queued = image_tag_bump_request(actor=actor, repository=repository, image=IMAGE, tag=tag, **fields)
    queued.refresh_from_db()
    return queued


def deployed_tag(repository) -> str:
    values = git("show", "main:chart/values.yaml", cwd=repository.infra.bare)
    return values.split('tag: "', 1)[1].split('"', 1)[0]


def test_a_rollback_bumps_back_and_pins_and_every_other_bump_is_refused_until_unpinned(
        project, deploy, django_capture_on_commit_callbacks):  # noqa: F811
    capture = django_capture_on_commit_callbacks
    assert bump(project.actor, deploy, "1.4.0", capture).status == RunStatus.SUCCEEDED
    assert deployed_tag(deploy) == "1.4.0"

    with capture(execute=True):
        pin, rollback = image_rollback(actor=project.actor, repository=deploy, image=IMAGE, tag="1.0.0",
                                       reason="1.4.0 corrupts orders", trigger=Trigger.PORTAL)
    rollback.refresh_from_db()
    assert rollback.status == RunStatus.SUCCEEDED, rollback.error_message
    assert rollback.old_tag == "1.4.0" and "rollback: 1.4.0 corrupts orders" in rollback.reason
    assert deployed_tag(deploy) == "1.0.0"
    assert ImagePin.objects.get(pk=pin.pk).bump_id == rollback.pk

    # The pipeline that built 1.5.0 and the console's own automation are refused, with who and why.
    for actor in (Actor.system("registry-watch"), project.actor):
        with pytest.raises(ImagePinned) as refused:
            image_tag_bump_request(actor=actor, repository=deploy, image=IMAGE, tag="1.5.0")
        assert refused.value.status_code == 409
        assert refused.value.message == "image pinned at 1.0.0 by alice because 1.4.0 corrupts orders"
    # Bumping to the pinned tag itself is no conflict (a recorded no-op here).
    assert bump(Actor.system(), deploy, "1.0.0", capture).status == RunStatus.NO_CHANGE

    image_unpin(actor=project.actor, repository=deploy, image=IMAGE, reason="fixed in 1.5.0")
    assert bump(Actor.system(), deploy, "1.5.0", capture).status == RunStatus.SUCCEEDED
    assert deployed_tag(deploy) == "1.5.0"
    actions = list(AuditEvent.objects.filter(action__in=("image.pin", "image.unpin")).order_by("id")
                   .values_list("action", "actor_label"))
    assert actions == [("image.pin", "alice"), ("image.unpin", "alice")]


def test_a_bump_queued_before_the_pin_pushes_nothing(project, deploy, django_capture_on_commit_callbacks):  # noqa: F811
    queued = image_tag_bump_request(actor=project.actor, repository=deploy, image=IMAGE, tag="2.0.0")
    image_pin(actor=project.actor, repository=deploy, image=IMAGE, tag="1.0.0", reason="freeze")
    from console.services.image_bumps import image_bump_execute

    image_bump_execute(run_id=queued.pk, task_id="t-1")
    queued.refresh_from_db()
    assert queued.status == RunStatus.FAILED and queued.error_code == "image_pinned"
    assert "image pinned at 1.0.0 by alice because freeze" in queued.error_message
    assert deployed_tag(deploy) == "1.0.0"


def test_a_pin_needs_a_reason_and_the_developer_role_and_no_pipeline_may_pin(project, deploy):  # noqa: F811
    from console.services.errors import DomainError

    with pytest.raises(DomainError) as refused:
        image_pin(actor=project.actor, repository=deploy, image=IMAGE, tag="1.0.0", reason=" ")
    assert "reason" in refused.value.message
    reader = make_user()
    make_member(reader, project, "reader")
    with pytest.raises(PermissionDenied):
        image_pin(actor=Actor.for_user(reader, "api"), repository=deploy, image=IMAGE, tag="1.0.0", reason="x")


def test_warnings_say_the_image_is_pinned(project, deploy, external_forge,
                                          django_capture_on_commit_callbacks):  # noqa: F811
    from console.services.built_images import built_image_report

    image_pin(actor=project.actor, repository=deploy, image=IMAGE, tag="1.0.0", reason="incident 42")
    app = repository_register(actor=project.actor, project=project, name="backend",
                              external_url=external_forge.url("deploy"), image_name=IMAGE)
    built_image_report(actor=project.actor, repository=app, image=IMAGE, tag="1.6.0")
    [warning] = redeploy_warnings(project)
    place = warning["bump_candidates"][0]
    assert place["pinned"]["tag"] == "1.0.0" and place["pinned"]["reason"] == "incident 42"
    assert "in deploy: image pinned at 1.0.0 by alice because incident 42 (unpin it to bump)" in warning["message"]


def test_ci_bumps_are_refused_with_409_over_the_api(project, deploy):  # noqa: F811
    _, secret = ci_token_create(actor=project.actor, repository=deploy, name="bump", scopes=["bump"])
    image_pin(actor=project.actor, repository=deploy, image=IMAGE, tag="1.0.0", reason="incident 42")
    pipeline = APIClient()
    pipeline.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = pipeline.post(f"/api/v1/repositories/{deploy.pk}/image-tags/", {"image": IMAGE, "tag": "1.7.0"},
                             format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": "image pinned at 1.0.0 by alice because incident 42",
                               "code": "image_pinned"}
    assert not ImageBump.objects.filter(tag="1.7.0").exists()
    # A pipeline may not lift the pin either.
    response = pipeline.post(f"/api/v1/repositories/{deploy.pk}/pins/unpin/", {"image": IMAGE}, format="json")
    assert response.status_code in (401, 403)


def test_rollback_pin_list_and_unpin_over_the_api(project, deploy, django_capture_on_commit_callbacks,
                                                  django_assert_num_queries):  # noqa: F811
    client = APIClient()
    client.force_authenticate(project.actor.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/repositories/{deploy.pk}/rollback/",
                               {"image": IMAGE, "tag": "0.9.0", "reason": "bad release"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["pin"]["refusal"] == "image pinned at 0.9.0 by alice because bad release"
    assert body["bump"]["tag"] == "0.9.0"
    image_pin(actor=project.actor, repository=deploy, image="registry.example.com/acme/shop-worker", tag="0.1",
              reason="freeze")
    with django_assert_num_queries(3):  # the repository, the count, the page: nothing per pin
        pins = client.get(f"/api/v1/repositories/{deploy.pk}/pins/").json()
    assert [p["active"] for p in pins["results"]] == [True, True]
    response = client.post(f"/api/v1/repositories/{deploy.pk}/pins/unpin/", {"image": IMAGE}, format="json")
    assert response.status_code == 200 and response.json()["active"] is False
    response = client.post(f"/api/v1/repositories/{deploy.pk}/pins/unpin/", {"image": IMAGE}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "not_pinned"


def test_the_portal_rolls_back_from_the_history_and_unpins(client, project, deploy,
                                                           django_capture_on_commit_callbacks):  # noqa: F811
    client.force_login(project.actor.user)
    page = client.get(f"/repositories/{deploy.pk}/").content.decode()
    assert "Roll back to 1.0.0 and pin" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/repositories/{deploy.pk}/images/rollback/",
                               {"image": IMAGE, "tag": "1.0.0", "reason": "regression"})
    assert response.status_code == 302
    page = client.get(f"/repositories/{deploy.pk}/").content.decode()
    assert "pinned at 1.0.0 by alice because regression" in page
    response = client.post(f"/repositories/{deploy.pk}/images/unpin/", {"image": IMAGE})
    assert response.status_code == 302
    assert not ImagePin.objects.filter(unpinned_at__isnull=True).exists()


def test_the_admin_unpins_through_the_service(client, project, deploy):  # noqa: F811
    root = make_user(staff=True)
    root.is_superuser = True
    root.save()
    pin = image_pin(actor=project.actor, repository=deploy, image=IMAGE, tag="1.0.0", reason="freeze")
    client.force_login(root)
    assert client.get("/admin/console/imagepin/").status_code == 200
    response = client.post("/admin/console/imagepin/", {"action": "unpin", "_selected_action": [pin.pk]})
    assert response.status_code == 302
    pin.refresh_from_db()
    assert pin.unpinned_at is not None and pin.unpinned_by_label == root.username
    assert AuditEvent.objects.filter(action="image.unpin", interface="admin").exists()
    assert client.get("/admin/console/syncschedule/").status_code == 200
