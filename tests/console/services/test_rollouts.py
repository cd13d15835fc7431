"""Bumps followed into the cluster by the read-back pass (the real kubernetes client against the Kubernetes API
double): a rollout that becomes stuck or failed notifies the project's webhook (a loopback receiver) once per
transition, whatever the number of passes; a built image, CI-reported or discovered by the registry watch,
reads "deployed" only once the built tag runs."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from console.models import BumpRollout, NotificationDelivery, ReleaseDeployment, RolloutStatus
from console.models.images import ImageBump, ImageRelease
from console.portal.views.deployments import release_states
from console.services.actors import Actor
from console.services.image_bumps import image_tag_bump_request
from console.services.images import redeploy_warnings
from console.services.notifications import notification_target_create
from console.services.readback import readback_pass
from console.services.registries import registry_register, tag_policy_set
from console.services.rollouts import running_image_matches
from tests.console.services.readback_support import (
    ARGOCD_URL,
    app_ref,
    apply_project,
    argocd_status,
    infra_history,
    make_delivered_project,
    pushed_bump,
    target_for,
)
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.console.services.test_images import project  # noqa: F401 - fixture
from tests.console.services.test_notifications import delivered, receiver  # noqa: F401 - fixtures
from tests.console.services.test_registry_watch import infra_repository, watch, watched  # noqa: F401
from tests.factories import make_user

pytestmark = pytest.mark.django_db
IMAGE = "registry.example.test/acme/shop"


@pytest.fixture
def notified(receiver, django_capture_on_commit_callbacks):  # noqa: F811
    """A delivered project whose webhook wants bump_failed; each pass's deliveries are sent when it commits."""
    project = make_delivered_project()
    owner = make_user("owner")
    from console.models import Membership, Role

    Membership.objects.create(user=owner, organization=project.organization, role=Role.OWNER)
    notification_target_create(actor=Actor.for_user(owner, "api"), project=project, kind="webhook",
                               url=receiver.url, events=["bump_failed"])
    return project


def read_back(kube_double, project, capture, **status):
    kube_double.patch_status(app_ref(project), argocd_status(**status))
    with capture(execute=True):
        readback_pass(targets=[target_for(kube_double, project)])


def events(receiver) -> list[dict]:  # noqa: F811
    return [json.loads(request["body"]) for request in receiver.received]


def test_stuck_then_failed_notify_once_each_however_many_passes(notified, kube_double, tmp_path, receiver,
                                                                 delivered, settings,
                                                                 django_capture_on_commit_callbacks):  # noqa: F811
    capture = django_capture_on_commit_callbacks
    settings.ROLLOUT_STUCK_AFTER_SECONDS = 60
    project = notified
    repository = project.repositories.get()
    apply_project(kube_double, project)
    first, second = infra_history(repository, tmp_path)
    bump = pushed_bump(repository, second, tag="1.2", finished_at=timezone.now() - timedelta(minutes=5))

    read_back(kube_double, project, capture, revision=first)
    [stuck] = events(receiver)
    assert stuck["event"] == "bump_failed" and receiver.received[0]["headers"]["X-DSO-Event"] == "bump_failed"
    assert stuck["payload"]["code"] == "rollout_stuck" and stuck["payload"]["bump"] == bump.pk
    assert (stuck["payload"]["image"], stuck["payload"]["tag"], stuck["payload"]["repository"]) == (
        IMAGE, "1.2", repository.name)
    assert "has not synced" in stuck["payload"]["message"]
    assert stuck["payload"]["argocd_link"] == f"{ARGOCD_URL}/applications/argocd/{app_ref(project).name}"

    # Later passes, and a pass redone after its worker died, see the same stuck rollout: nothing new is sent,
    # even though its message (minutes since the push) changes.
    ImageBump.objects.filter(pk=bump.pk).update(finished_at=timezone.now() - timedelta(minutes=9))
    for _ in range(3):
        read_back(kube_double, project, capture, revision=first)
    assert len(receiver.received) == 1
    assert "9 minutes" in BumpRollout.objects.get(bump=bump).message

    # Argo CD syncs the bump and the sync fails: a new transition, a new notification with Argo CD's message.
    read_back(kube_double, project, capture, sync="OutOfSync", health="Degraded", revision=second, phase="Failed",
              message="one or more objects failed to apply")
    read_back(kube_double, project, capture, sync="OutOfSync", health="Degraded", revision=second, phase="Failed",
              message="one or more objects failed to apply")
    assert [(e["payload"]["code"], e["payload"]["message"]) for e in events(receiver)] == [
        ("rollout_stuck", stuck["payload"]["message"]),
        ("rollout_failed", "one or more objects failed to apply")]
    assert events(receiver)[1]["payload"]["synced_revision"] == second
    assert NotificationDelivery.objects.filter(event="bump_failed", status="delivered").count() == 2

    # Fixed and deployed: no notification; the history keeps every step for the ledger.
    read_back(kube_double, project, capture, revision=second, images=[f"{IMAGE}:1.2"])
    rollout = BumpRollout.objects.get(bump=bump)
    assert rollout.status == RolloutStatus.DEPLOYED and rollout.notified_status == ""
    assert [entry["status"] for entry in rollout.history] == ["stuck", "failed", "deployed"]
    assert rollout.running_image == f"{IMAGE}:1.2" and rollout.running_at is not None
    assert len(receiver.received) == 2


def test_a_failure_that_comes_back_after_recovering_notifies_again(notified, kube_double, tmp_path, receiver,
                                                                    delivered,
                                                                    django_capture_on_commit_callbacks):  # noqa: F811
    capture = django_capture_on_commit_callbacks
    project = notified
    repository = project.repositories.get()
    apply_project(kube_double, project)
    [commit] = infra_history(repository, tmp_path, count=1)
    pushed_bump(repository, commit, tag="1.1")
    failing = dict(sync="Synced", health="Degraded", revision=commit, health_message="CrashLoopBackOff")
    read_back(kube_double, project, capture, **failing)
    read_back(kube_double, project, capture, sync="Synced", health="Progressing", revision=commit)
    read_back(kube_double, project, capture, **failing)
    assert [e["payload"]["message"] for e in events(receiver)] == ["CrashLoopBackOff", "CrashLoopBackOff"]


def test_a_notification_that_could_not_be_recorded_is_tried_on_the_next_pass(
        notified, kube_double, tmp_path, receiver, delivered, monkeypatch,
        django_capture_on_commit_callbacks):  # noqa: F811
    from console.services import notifications

    capture = django_capture_on_commit_callbacks
    project = notified
    repository = project.repositories.get()
    apply_project(kube_double, project)
    [commit] = infra_history(repository, tmp_path, count=1)
    bump = pushed_bump(repository, commit, tag="1.1")
    real_notify = notifications.notify

    def broken(**kwargs):
        raise RuntimeError("notification store unavailable")

    monkeypatch.setattr(notifications, "notify", broken)
    failed = dict(sync="OutOfSync", revision=commit, phase="Error", message="rpc error: connection refused")
    read_back(kube_double, project, capture, **failed)  # the pass itself goes on
    rollout = BumpRollout.objects.get(bump=bump)
    assert rollout.status == RolloutStatus.FAILED and rollout.notified_status == ""
    assert receiver.received == []

    monkeypatch.setattr(notifications, "notify", real_notify)
    read_back(kube_double, project, capture, **failed)
    read_back(kube_double, project, capture, **failed)
    assert [e["payload"]["code"] for e in events(receiver)] == ["rollout_failed"]


def test_a_pass_running_alongside_finds_the_transition_claimed(notified, kube_double, tmp_path, receiver, delivered,
                                                               django_capture_on_commit_callbacks):  # noqa: F811
    """Two passes that judged the same transition (a refresh during the periodic pass): one notification."""
    from console.services.rollouts import _notify_failed

    capture = django_capture_on_commit_callbacks
    project = notified
    repository = project.repositories.get()
    apply_project(kube_double, project)
    [commit] = infra_history(repository, tmp_path, count=1)
    bump = pushed_bump(repository, commit, tag="1.1")
    stale = BumpRollout.objects.create(bump=bump)  # what the other pass read: waiting, nothing notified
    read_back(kube_double, project, capture, sync="OutOfSync", revision=commit, phase="Failed", message="boom")
    stale.status, stale.message = RolloutStatus.FAILED, "boom"
    with capture(execute=True):
        _notify_failed([stale], {})
    assert len(receiver.received) == 1


def test_releases_read_deployed_only_once_the_built_tag_runs_ci_and_registry_alike(
        project, external_forge, oci_registry, watched, kube_double,
        django_capture_on_commit_callbacks):  # noqa: F811
    capture = django_capture_on_commit_callbacks
    image = f"{oci_registry.url.removeprefix('http://')}/team/app"
    deploy = infra_repository(project, external_forge, capture, image)
    digests = {tag: oci_registry.push("team/app", tag) for tag in ("1.4.0", "1.4.3")}
    registry = registry_register(actor=project.actor, project=project, name="main", url=oci_registry.url,
                                 images=["team/app"])
    tag_policy_set(actor=project.actor, image=registry.images.get(), repository=deploy, kind="semver",
                   constraint="~1.4")
    watch(registry, capture)
    [warning] = redeploy_warnings(project)
    assert (warning["tag"], warning["source"]) == ("1.4.3", "registry")
    release = ImageRelease.objects.get(tag="1.4.3")
    apply_project(kube_double, project)

    def running(*images):
        kube_double.patch_status(app_ref(project, "deploy"), argocd_status(images=list(images)))
        readback_pass(targets=[target_for(kube_double, project)])
        return ReleaseDeployment.objects.filter(release=release).first()

    assert running(f"{image}:1.4.0") is None
    assert redeploy_warnings(project), "still waiting: the old tag runs"

    with capture(execute=True):
        image_tag_bump_request(actor=project.actor, repository=deploy, image=image, tag="1.4.3", reason="release")
    assert redeploy_warnings(project) == []  # bumped in Git ...
    deployments = list(deploy.project.deployments.all())
    assert [(s["tag"], s["deployed"]) for s in release_states(project, deployments)] == [("1.4.3", False)]
    assert running(f"{image}:1.4.0") is None  # ... but the cluster still runs the old tag

    # The tag pushed again since the watch read it: what runs is not the build the watch discovered.
    assert running(f"{image}:1.4.3@sha256:" + "f" * 64) is None
    # Referenced by digest alone: the digest the watch read for 1.4.3 is the built tag.
    seen = running(f"{image}@{digests['1.4.3']}")
    assert seen is not None and seen.repository == deploy and seen.running_image == f"{image}@{digests['1.4.3']}"
    assert [(s["tag"], s["deployed"]) for s in release_states(project, deployments)] == [("1.4.3", True)]


def test_a_build_replaced_before_any_bump_is_not_listed_as_bumped(kube_double):
    project = make_delivered_project()
    apply_project(kube_double, project)
    now = timezone.now()
    ImageRelease.objects.create(project=project, image=IMAGE, tag="2.0", source="ci_report", resolved_at=now)
    kube_double.patch_status(app_ref(project), argocd_status(images=[f"{IMAGE}:1.9"]))
    readback_pass(targets=[target_for(kube_double, project)])
    assert release_states(project, list(project.deployments.all())) == []


def test_running_image_matching():
    digest = "sha256:" + "a" * 64
    assert running_image_matches("reg/app:1.2", "reg/app", "1.2")
    assert running_image_matches(f"reg/app:1.2@{digest}", "reg/app", "1.2")
    assert running_image_matches(f"reg/app:1.2@{digest}", "reg/app", "1.2", digest)
    assert running_image_matches(f"reg/app@{digest}", "reg/app", "1.2", digest)
    assert not running_image_matches(f"reg/app@{digest}", "reg/app", "1.2")  # no digest known: no tag, no match
    assert not running_image_matches("reg/app:1.2@sha256:" + "b" * 64, "reg/app", "1.2", digest)
    assert not running_image_matches(f"reg/app:1.3@{digest}", "reg/app", "1.2", digest)
    assert not running_image_matches("reg/app:1.20", "reg/app", "1.2")
    assert not running_image_matches("reg/app-worker:1.2", "reg/app", "1.2")
