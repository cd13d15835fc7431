"""The read-back's steps in the image tag ledger, on a real release (CI report, bump, infra commit and sync on
real git) followed by the read-back pass against the Kubernetes API double: stuck, then deployed, then seen
running, with the durations up to running, in a pinned number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console.models import BumpRollout, ReleaseDeployment, RolloutStatus
from console.models.images import ImageBump, ImageRelease, ImageTagChange
from console.services.ledger import image_tag_ledger
from console.services.readback import readback_pass
from tests.console.services.readback_support import ARGOCD_URL, app_ref, apply_project, argocd_status, target_for
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.console.services.test_images import project  # noqa: F401 - fixture
from tests.console.services.test_ledger import IMAGE, released  # noqa: F401 - fixture
from tests.factories import make_repository, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def followed(project, released, kube_double, settings):  # noqa: F811
    """The release's bump, pushed 20 minutes ago (the application commit an hour ago), and the cluster
    that runs the project's Application."""
    settings.ROLLOUT_STUCK_AFTER_SECONDS = 60
    bump = ImageBump.objects.get(repository=released, tag="1.4.2")
    ImageBump.objects.filter(pk=bump.pk).update(finished_at=timezone.now() - timedelta(minutes=20))
    # What an application repository's sync records for a CI report whose commit it mirrored.
    ImageRelease.objects.filter(image=IMAGE, tag="1.4.2").update(committed_at=timezone.now() - timedelta(hours=1))
    apply_project(kube_double, project)
    bump.refresh_from_db()
    return bump


def read_back(kube_double, project, **status):  # noqa: F811
    kube_double.patch_status(app_ref(project, "deploy"), argocd_status(**status))
    readback_pass(targets=[target_for(kube_double, project)])


def test_stuck_then_deployed_then_running_with_durations_up_to_running(client, project, kube_double,
                                                                       followed):  # noqa: F811
    application = app_ref(project, "deploy").name
    read_back(kube_double, project, sync="OutOfSync", revision="", images=[f"{IMAGE}:1.4.0"])
    ledger = image_tag_ledger(user=project.actor.user, image=IMAGE, tag="1.4.2")
    assert ledger["running"] is False and ledger["commit_to_running_seconds"] is None
    [stuck] = [s for s in ledger["steps"] if s["step"] == "deployment"]
    assert stuck["status"] == RolloutStatus.STUCK and "has not synced" in stuck["message"]
    assert stuck["sync_status"] == "OutOfSync"
    assert stuck["argocd_link"] == f"{ARGOCD_URL}/applications/argocd/{application}"
    client.force_login(project.actor.user)
    assert "Not seen running yet" in client.get(f"/images/{IMAGE}/tags/1.4.2/").content.decode()

    read_back(kube_double, project, revision=followed.commit_sha, images=[f"{IMAGE}:1.4.2", "redis:7"])

    ledger = image_tag_ledger(user=project.actor.user, image=IMAGE, tag="1.4.2")
    steps = ledger["steps"]
    assert [s["step"] for s in steps] == ["commit", "build", "bump", "infra_commit", "infra_sync",
                                          "deployment", "deployment", "running"]
    deployed, running = steps[-2], steps[-1]
    assert (deployed["status"], deployed["synced_revision"], deployed["sync_status"], deployed["health_status"]) == (
        RolloutStatus.DEPLOYED, followed.commit_sha, "Synced", "Healthy")
    assert (running["image"], running["repository"], running["still_running"]) == (f"{IMAGE}:1.4.2", "deploy", True)
    assert running["bump"] == followed.pk and running["application"] == application
    # Every step after the first says how long after the previous one it came, up to running.
    assert all(s["since_previous_seconds"] >= 0 for s in steps[1:])
    assert running["since_previous_seconds"] == pytest.approx((running["at"] - deployed["at"]).total_seconds())
    assert ledger["running"] is True
    assert ledger["commit_to_running_seconds"] == pytest.approx((running["at"] - steps[0]["at"]).total_seconds())
    assert ledger["commit_to_running_seconds"] >= 3600

    page = client.get(f"/images/{IMAGE}/tags/1.4.2/").content.decode()
    assert "seen running" in page and "Not seen running yet" not in page
    assert f'href="{ARGOCD_URL}/applications/argocd/{application}"' in page
    answer = client.get(f"/api/v1/images/{IMAGE}/tags/1.4.2/").json()
    assert answer["running"] is True and answer["steps"][-1]["step"] == "running"

    # A later read no longer lists the tag: the step stays, marked as not running any more.
    read_back(kube_double, project, revision=followed.commit_sha, images=[f"{IMAGE}:1.4.3"])
    assert image_tag_ledger(user=project.actor.user, image=IMAGE, tag="1.4.2")["steps"][-1]["still_running"] is False


def test_the_provider_sees_only_the_visible_repositories(project, kube_double, followed):  # noqa: F811
    read_back(kube_double, project, revision=followed.commit_sha, images=[f"{IMAGE}:1.4.2"])
    assert image_tag_ledger(user=make_user(), image=IMAGE, tag="1.4.2")["steps"] == []


def test_a_tag_seen_running_without_a_bump_of_the_console_has_its_running_step(project, kube_double,
                                                                                followed):  # noqa: F811
    """The built image runs in an infra repository the console never bumped it in (a commit made there)."""
    other = make_repository(project, "deploy-eu", is_infra=True)
    release = ImageRelease.objects.get(image=IMAGE, tag="1.4.2")
    seen_at = timezone.now()
    ReleaseDeployment.objects.create(release=release, repository=other, running_image=f"{IMAGE}:1.4.2",
                                     deployed_at=seen_at)
    from console.services.deployment_ledger import deployment_ledger_steps

    [running] = deployment_ledger_steps(image=IMAGE, tag="1.4.2", repositories=[followed.repository_id, other.pk])
    assert (running["step"], running["repository"], running["release"], running["at"]) == (
        "running", "deploy-eu", release.pk, seen_at)
    assert running["still_running"] is None  # that repository was never read back


def test_the_ledger_runs_the_same_queries_whatever_the_number_of_rollouts(project, kube_double, followed,
                                                                          django_assert_num_queries):  # noqa: F811
    read_back(kube_double, project, revision=followed.commit_sha, images=[f"{IMAGE}:1.4.2"])
    # releases, the app syncs of their commits, discovered tags, bumps, infra changes; rollouts (with their
    # repository's Application), built images seen running (likewise).
    with django_assert_num_queries(7):
        few = image_tag_ledger(user=project.actor.user, image=IMAGE, tag="1.4.2")

    for name in ("deploy-eu", "deploy-us"):
        repository = make_repository(project, name, is_infra=True)
        bump = ImageBump.objects.create(repository=repository, image=IMAGE, tag="1.4.2", trigger="api",
                                        status="succeeded", commit_sha="b" * 40, finished_at=timezone.now())
        BumpRollout.objects.create(bump=bump, status=RolloutStatus.DEPLOYED, changed_at=timezone.now(),
                                   history=[{"status": "deployed", "at": timezone.now()}],
                                   running_image=f"{IMAGE}:1.4.2", running_at=timezone.now())
    # Two more reports of the tag, seen running where no bump of the console set it.
    for name in ("deploy-asia", "deploy-moon"):
        release = ImageRelease.objects.create(project=project, image=IMAGE, tag="1.4.2", source="ci_report",
                                              resolved_at=timezone.now())
        repository = make_repository(project, name, is_infra=True)
        ImageTagChange.objects.create(repository=repository, file="values.yaml", location="image", image=IMAGE,
                                      kind="changed", new_tag="1.4.2", commit_sha="c" * 40,
                                      committed_at=timezone.now())
        ReleaseDeployment.objects.create(release=release, repository=repository, running_image=f"{IMAGE}:1.4.2",
                                         deployed_at=timezone.now())
    with django_assert_num_queries(7):
        more = image_tag_ledger(user=project.actor.user, image=IMAGE, tag="1.4.2")
    assert len([s for s in more["steps"] if s["step"] == "running"]) == 5
    assert len(more["steps"]) > len(few["steps"])
