"""The ledger of one image tag end to end (CI report, bump, infra commit and sync on real git), the deployment
hook, visibility, and the platform-wide inventory with its CSV export and pinned query count."""

from __future__ import annotations

import csv
import io

import pytest
from rest_framework.test import APIClient

from console.services.actors import Actor
from console.services.built_images import built_image_report
from console.services.errors import PermissionDenied
from console.services.image_bumps import image_tag_bump_request
from console.services.ledger import image_inventory, image_tag_ledger
from console.services.repositories import repository_register
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.console.services.test_images import VALUES, project  # noqa: F401 - fixtures
from tests.factories import make_user

pytestmark = pytest.mark.django_db

IMAGE = "registry.example.com/acme/shop-backend"


def deployment_stub_provider(*, image, tag, repositories):
    """Stands for the deployment read-back (console.models.deployments, another piece): the hook's shape."""
    from django.utils import timezone

    return [{"step": "deployment", "at": timezone.now(), "health": "Healthy", "repositories": repositories}]


@pytest.fixture
def released(project, external_forge, django_capture_on_commit_callbacks):  # noqa: F811
    capture = django_capture_on_commit_callbacks
    external_forge.create("deploy", {"chart/values.yaml": VALUES.format(tag="1.0.0", worker="0.1")})
    with capture(execute=True):
        deploy = repository_register(
            actor=project.actor, project=project, name="deploy", external_url=external_forge.url("deploy"),
            is_infra=True, deploy_kind="helm", deploy_path="chart", username="ci", token=external_forge.token)
        app = repository_register(actor=project.actor, project=project, name="backend",
                                  external_url=external_forge.url("deploy"), image_name=IMAGE)
    built_image_report(actor=project.actor, repository=app, image=IMAGE, tag="1.4.2", commit_sha="a" * 40)
    with capture(execute=True):
        image_tag_bump_request(actor=project.actor, repository=deploy, image=IMAGE, tag="1.4.2", reason="release")
    return deploy


def test_the_ledger_joins_build_bump_infra_commit_and_sync_with_durations(project, released, settings):  # noqa: F811
    ledger = image_tag_ledger(user=project.actor.user, image=IMAGE, tag="1.4.2")
    steps = [step["step"] for step in ledger["steps"]]
    assert steps == ["build", "bump", "infra_commit", "infra_sync"]
    bump = ledger["steps"][1]
    assert bump["by"] == "alice" and bump["reason"] == "release" and bump["status"] == "succeeded"
    assert ledger["steps"][2]["commit_sha"] == bump["commit_sha"]
    assert all(step["since_previous_seconds"] >= 0 for step in ledger["steps"][1:])
    # The read-back's provider is there by default; nothing read back yet: not running.
    assert ledger["deployments_known"] is True and ledger["running"] is False
    assert ledger["commit_to_running_seconds"] is None

    settings.IMAGE_LEDGER_DEPLOYMENT_PROVIDERS = []
    ledger = image_tag_ledger(user=project.actor.user, image=IMAGE, tag="1.4.2")
    assert ledger["deployments_known"] is False and ledger["running"] is None

    settings.IMAGE_LEDGER_DEPLOYMENT_PROVIDERS = ["tests.console.services.test_ledger.deployment_stub_provider"]
    ledger = image_tag_ledger(user=project.actor.user, image=IMAGE, tag="1.4.2")
    assert ledger["steps"][-1]["step"] == "deployment"
    assert ledger["steps"][-1]["repositories"] == [released.pk]


def test_others_see_nothing_and_the_api_and_portal_serve_it(client, project, released):  # noqa: F811
    assert image_tag_ledger(user=make_user(), image=IMAGE, tag="1.4.2")["steps"] == []
    api = APIClient()
    api.force_authenticate(project.actor.user)
    answer = api.get(f"/api/v1/images/{IMAGE}/tags/1.4.2/")
    assert answer.status_code == 200
    assert [s["step"] for s in answer.json()["steps"]][:2] == ["build", "bump"]
    client.force_login(project.actor.user)
    page = client.get(f"/images/{IMAGE}/tags/1.4.2/").content.decode()
    assert "infra repository synced" in page and "bump" in page
    # Histories link to it.
    assert f"/images/{IMAGE}/tags/1.4.2/" in client.get(f"/repositories/{released.pk}/").content.decode()


def test_the_inventory_answers_who_runs_a_tag_for_admins_only(client, project, released,
                                                              django_assert_num_queries):  # noqa: F811
    with pytest.raises(PermissionDenied):
        image_inventory(actor=project.actor, image=IMAGE)
    admin = make_user(staff=True)
    rows = list(image_inventory(actor=Actor.for_user(admin, "api"), image="shop-backend", tag="1.4.2"))
    assert [(r.repository.name, r.tag) for r in rows] == [("deploy", "1.4.2")]
    api = APIClient()
    api.force_authenticate(admin)
    with django_assert_num_queries(2):  # the count and the page, projects and organizations joined
        listed = api.get("/api/v1/images/inventory/?tag=1.4.2").json()
    assert listed["results"][0]["project"] == project.slug
    exported = api.get("/api/v1/images/inventory/?export=csv&image=shop")
    assert exported["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert {(row["image"], row["tag"]) for row in table} == {(IMAGE, "1.4.2"),
                                                               ("registry.example.com/acme/shop-worker", "0.1")}
    api.force_authenticate(project.actor.user)
    assert api.get("/api/v1/images/inventory/").status_code == 403
    client.force_login(admin)
    page = client.get("/images/inventory/?tag=1.4.2").content.decode()
    assert "deploy" in page and "Export CSV" in page
