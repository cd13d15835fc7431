"""The read-back pass with the real kubernetes client against the Kubernetes API double: what Argo CD reports
lands on deployments and bumps; one LIST per cluster and kind with the console's label selector; a cluster
that does not answer is recorded, not fatal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console.models import BumpRollout, Deployment, DriftRecord, ProjectObservation, RolloutStatus
from console.models.images import ImageRelease
from console.services import readback
from console.services.readback import MANAGED_SELECTOR, readback_pass
from console.services.readback_targets import Target
from django.db.models import Q
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

pytestmark = pytest.mark.django_db
IMAGE = "registry.example.test/acme/shop"


def test_synced_healthy_then_out_of_sync_degraded_is_reflected_on_deployments_and_bumps(kube_double, tmp_path):
    project = make_delivered_project()
    repository = project.repositories.get()
    apply_project(kube_double, project)
    first, second = infra_history(repository, tmp_path)
    bump = pushed_bump(repository, first, tag="1.1")
    kube_double.patch_status(app_ref(project), argocd_status(revision=first, images=[f"{IMAGE}:1.1"]))

    readback_pass(targets=[target_for(kube_double, project)])

    deployment = Deployment.objects.get(repository=repository)
    assert (deployment.sync_status, deployment.health_status, deployment.synced_revision) == ("Synced", "Healthy", first)
    assert deployment.images == [f"{IMAGE}:1.1"]
    assert deployment.argocd_link == f"{ARGOCD_URL}/applications/argocd/{app_ref(project).name}"
    assert BumpRollout.objects.get(bump=bump).status == RolloutStatus.DEPLOYED

    # The next bump's sync fails and the application goes Degraded.
    later = pushed_bump(repository, second, tag="1.2")
    kube_double.patch_status(app_ref(project), argocd_status(
        sync="OutOfSync", health="Degraded", revision=second, phase="Failed", images=[f"{IMAGE}:1.1"],
        message="one or more objects failed to apply: Deployment.apps \"shop\" is invalid"))

    readback_pass(targets=[target_for(kube_double, project)])

    deployment.refresh_from_db()
    assert (deployment.sync_status, deployment.health_status, deployment.operation_phase) == (
        "OutOfSync", "Degraded", "Failed")
    rollout = BumpRollout.objects.get(bump=later)
    assert rollout.status == RolloutStatus.FAILED
    assert "failed to apply" in rollout.message
    # The first bump stays deployed: what ran is history, not undone by a later failure.
    assert BumpRollout.objects.get(bump=bump).status == RolloutStatus.DEPLOYED


def test_a_bump_nobody_syncs_is_stuck_after_the_delay(kube_double, tmp_path, settings):
    settings.ROLLOUT_STUCK_AFTER_SECONDS = 60
    project = make_delivered_project()
    repository = project.repositories.get()
    apply_project(kube_double, project)
    first, second = infra_history(repository, tmp_path)
    fresh = pushed_bump(repository, second, tag="1.2")
    kube_double.patch_status(app_ref(project), argocd_status(revision=first))

    readback_pass(targets=[target_for(kube_double, project)])
    assert BumpRollout.objects.get(bump=fresh).status == RolloutStatus.WAITING

    type(fresh).objects.filter(pk=fresh.pk).update(finished_at=timezone.now() - timedelta(minutes=5))
    readback_pass(targets=[target_for(kube_double, project)])
    rollout = BumpRollout.objects.get(bump=fresh)
    assert rollout.status == RolloutStatus.STUCK
    assert "has not synced" in rollout.message and second[:12] in rollout.message


def test_built_image_reads_deployed_only_once_the_built_tag_runs(kube_double, tmp_path):
    project = make_delivered_project()
    repository = project.repositories.get()
    apply_project(kube_double, project)
    release = ImageRelease.objects.create(project=project, image=IMAGE, tag="2.0", source="ci_report",
                                          resolved_at=timezone.now())
    kube_double.patch_status(app_ref(project), argocd_status(images=[f"{IMAGE}:1.9"]))
    readback_pass(targets=[target_for(kube_double, project)])
    assert not hasattr(ImageRelease.objects.get(pk=release.pk), "deployment") or not \
        type(release).objects.filter(pk=release.pk, deployment__isnull=False).exists()

    kube_double.patch_status(app_ref(project), argocd_status(images=[f"{IMAGE}:2.0@sha256:" + "a" * 64]))
    readback_pass(targets=[target_for(kube_double, project)])
    release.refresh_from_db()
    assert release.deployment.repository == repository
    assert release.deployment.running_image.startswith(f"{IMAGE}:2.0")


def test_one_list_per_cluster_and_kind_with_the_label_selector_whatever_the_number_of_projects(kube_double):
    organization = None
    projects = []
    for slug in ("shop", "blog", "wiki"):
        project = make_delivered_project(slug, organization)
        organization = project.organization
        apply_project(kube_double, project)
        projects.append(project)
    kube_double.clear_requests()

    record = readback_pass(targets=[target_for(kube_double, *projects)])

    gets = [r for r in kube_double.requests if r.method == "GET"]
    lists = [r for r in gets if "labelSelector" in r.query]
    # Besides API discovery (the client's, once per group), nothing but selector LISTs: no GET per object.
    assert all(r.path.count("/") <= 3 for r in gets if r not in lists), [r.path for r in gets]
    assert {r.query["labelSelector"] for r in lists} == {MANAGED_SELECTOR}
    paths = sorted(r.path for r in lists)
    assert len(paths) == len(set(paths)), "each kind is listed once per cluster"
    assert "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications" in paths
    assert "/api/v1/resourcequotas" in paths
    assert record.clusters["double"]["list_calls"] == len(lists)
    assert Deployment.objects.filter(found=True).count() == 3
    # Freshly applied objects read back with every server-populated field: no drift.
    assert record.drift_open == 0, list(DriftRecord.objects.values_list("kind", "name", "field_paths"))
    usage = ProjectObservation.objects.get(project=projects[0])
    assert usage.quota_observed_at is not None


def test_quota_usage_is_read_from_the_quota_status(kube_double):
    from provisioning.cluster import ObjectRef

    project = make_delivered_project()
    apply_project(kube_double, project)
    kube_double.patch_status(ObjectRef("v1", "ResourceQuota", project.namespace, "project-quota"),
                             {"hard": {"pods": "50", "requests.cpu": "4"}, "used": {"pods": "3", "requests.cpu": "750m"}})
    readback_pass(targets=[target_for(kube_double, project)])
    observation = ProjectObservation.objects.get(project=project)
    assert observation.quota_used == {"pods": "3", "requests.cpu": "750m"}
    assert observation.quota_hard["pods"] == "50"


def test_a_cluster_that_times_out_is_recorded_unreachable_and_the_pass_goes_on(kube_double):
    stalled = make_delivered_project("shop")
    elsewhere = make_delivered_project("blog", stalled.organization)
    apply_project(kube_double, stalled)
    kube_double.patch_status(app_ref(stalled), argocd_status())
    readback_pass(targets=[target_for(kube_double, stalled)])
    kube_double.hang(seconds=5)

    record = readback_pass(targets=[
        target_for(kube_double, stalled, timeout_seconds=0.3),
        Target(name="", projects=Q(pk=elsewhere.pk)),
    ])

    report = record.clusters["double"]
    assert report["reachable"] is False and report["error_code"] == "cluster_unreachable"
    assert record.finished_at is not None and record.projects == 2
    deployment = Deployment.objects.get(repository__project=stalled)
    assert deployment.unreachable and "could not be read" in deployment.error_message
    # What was last read stays, marked stale.
    assert deployment.sync_status == "Synced" and deployment.observed_at < deployment.checked_at
    assert Deployment.objects.get(repository__project=elsewhere).error_code == "no_cluster"


def test_a_refresh_reads_only_the_cluster_of_its_project(kube_double):
    project = make_delivered_project()
    apply_project(kube_double, project)
    elsewhere = target_for(kube_double, project)
    elsewhere.name, elsewhere.projects = "elsewhere", Q(pk__in=[])
    kube_double.clear_requests()

    record = readback.readback_pass(project_ids=[project.pk], targets=[target_for(kube_double, project), elsewhere])

    assert set(record.clusters) == {"double"} and record.projects == 1
    assert record.clusters["double"]["list_calls"] == len(
        [r for r in kube_double.requests if "labelSelector" in r.query])
