"""Drift made by hand (in the Kubernetes API double, or in the platform repository) is detected, recorded with its
field paths, resolved once gone, and corrected through a provisioning run when self-heal is on."""

from __future__ import annotations

import copy

import pytest
from django.db.models import Q

from console.integrations import get_delivery
from console.models import DriftReason, DriftRecord, ProvisioningCause, ProvisioningRun, Trigger
from console.services.actors import Actor
from console.services.projects import project_provision_request
from console.services.provisioning import delivery_directory, project_manifest_spec, provisioning_execute
from console.services.readback import readback_pass
from console.services.readback_targets import Target
from provisioning import manifests
from provisioning.cluster import ObjectRef
from tests.console.services.readback_support import (
    app_ref,
    apply_project,
    argocd_status,
    make_delivered_project,
    target_for,
)
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


def open_drift(project, **filters):
    return list(DriftRecord.objects.filter(project=project, resolved_at__isnull=True, **filters).order_by("kind"))


def test_hand_edits_in_the_cluster_are_detected_with_their_field_paths_and_resolved_when_undone(kube_double):
    project = make_delivered_project()
    apply_project(kube_double, project)
    quota_ref = ObjectRef("v1", "ResourceQuota", project.namespace, "project-quota")
    original = kube_double.get(quota_ref)
    edited = copy.deepcopy(original)
    edited["spec"]["hard"]["pods"] = "500"
    kube_double.put_object(edited)
    kube_double.remove_object(ObjectRef("v1", "LimitRange", project.namespace, "project-limits"))
    stray = {"apiVersion": manifests.ARGOCD_API_VERSION, "kind": "Application",
             "metadata": {"name": "acme-shop-old", "namespace": "argocd", "labels": {
                 manifests.MANAGED_BY_LABEL: "dso-console", manifests.ORGANIZATION_LABEL: "acme",
                 manifests.PROJECT_LABEL: "shop"}},
             "spec": {"project": "acme-shop", "destination": {"namespace": project.namespace}}}
    kube_double.put_object(stray)

    readback_pass(targets=[target_for(kube_double, project)])

    found = {(r.kind, r.name): r for r in open_drift(project, source="cluster")}
    assert found[("ResourceQuota", "project-quota")].reason == DriftReason.CHANGED
    assert found[("ResourceQuota", "project-quota")].field_paths == ["spec.hard.pods"]
    assert found[("LimitRange", "project-limits")].reason == DriftReason.MISSING
    assert found[("Application", "acme-shop-old")].reason == DriftReason.UNEXPECTED
    assert len(found) == 3, found
    first_seen = found[("ResourceQuota", "project-quota")].first_seen

    # Seen again: the same record, last_seen moves, first_seen stays.
    readback_pass(targets=[target_for(kube_double, project)])
    again = DriftRecord.objects.get(project=project, kind="ResourceQuota", resolved_at__isnull=True)
    assert again.pk == found[("ResourceQuota", "project-quota")].pk
    assert again.first_seen == first_seen and again.last_seen > first_seen

    # Undone by hand: resolved.
    kube_double.put_object(original)
    readback_pass(targets=[target_for(kube_double, project)])
    again.refresh_from_db()
    assert again.resolved_at is not None


def test_server_populated_fields_and_foreign_annotations_are_not_drift(kube_double):
    project = make_delivered_project()
    apply_project(kube_double, project)
    namespace = kube_double.get(ObjectRef("v1", "Namespace", None, project.namespace))
    namespace["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    namespace["metadata"]["labels"]["team.example/extra"] = "added by someone"  # not a field the console sets
    kube_double.put_object(namespace)
    readback_pass(targets=[target_for(kube_double, project)])
    assert open_drift(project) == []


def test_argocd_out_of_sync_and_orphaned_resources_are_recorded(kube_double):
    project = make_delivered_project()
    apply_project(kube_double, project)
    kube_double.patch_status(app_ref(project), argocd_status(
        sync="OutOfSync",
        resources=[{"group": "apps", "version": "v1", "kind": "Deployment", "namespace": project.namespace,
                    "name": "shop", "status": "OutOfSync"},
                   {"version": "v1", "kind": "Service", "namespace": project.namespace, "name": "shop",
                    "status": "Synced"}],
        conditions=[{"type": "OrphanedResourceWarning", "message": "Application has 1 orphaned resources"}]))

    readback_pass(targets=[target_for(kube_double, project)])

    records = {(r.reason, r.kind, r.name): r for r in open_drift(project, source="argocd")}
    assert set(records) == {(DriftReason.OUT_OF_SYNC, "Deployment", "shop"),
                            (DriftReason.ORPHANED, "Application", app_ref(project).name)}
    assert records[(DriftReason.OUT_OF_SYNC, "Deployment", "shop")].api_version == "apps/v1"
    assert "1 orphaned" in records[(DriftReason.ORPHANED, "Application", app_ref(project).name)].detail


def test_self_heal_asks_a_drift_correction_run_once_until_the_retry_delay(kube_double, monkeypatch,
                                                                            django_capture_on_commit_callbacks):
    asked = []
    stand_in(monkeypatch, "provisioning", asked.append)
    project = make_delivered_project()
    apply_project(kube_double, project)
    kube_double.remove_object(ObjectRef("v1", "LimitRange", project.namespace, "project-limits"))

    with django_capture_on_commit_callbacks(execute=True):
        record = readback_pass(targets=[target_for(kube_double, project, self_heal=True)])
    with django_capture_on_commit_callbacks(execute=True):
        readback_pass(targets=[target_for(kube_double, project, self_heal=True)])

    run = ProvisioningRun.objects.get(project=project)
    assert run.cause == ProvisioningCause.DRIFT_CORRECTION and run.trigger == Trigger.SCHEDULE
    assert "LimitRange project-limits" in run.cause_summary
    assert run.trigger_detail["by"] == "drift correction"
    assert asked == [run.pk] and record.corrections == 1
    assert DriftRecord.objects.get(project=project, kind="LimitRange").correction_run == run

    # Without self-heal nothing is asked.
    other = make_delivered_project("blog", project.organization)
    apply_project(kube_double, other)
    kube_double.remove_object(ObjectRef("v1", "LimitRange", other.namespace, "project-limits"))
    readback_pass(targets=[target_for(kube_double, other)])
    assert not ProvisioningRun.objects.filter(project=other).exists()
    assert open_drift(other)


@pytest.fixture
def provisioned(forge_server, monkeypatch, django_capture_on_commit_callbacks):
    """A project whose manifests a real provisioning run committed to the local forge's platform repository."""
    stand_in(monkeypatch, "provisioning", lambda run_id: provisioning_execute(run_id=run_id, task_id=f"p-{run_id}"))
    project = make_delivered_project()
    with django_capture_on_commit_callbacks(execute=True):
        project_provision_request(actor=Actor.system("test"), project=project, trigger=Trigger.API)
    project.refresh_from_db()
    return project


def test_gitops_hand_edit_of_the_platform_repository_is_detected_and_recommitted(
        provisioned, django_capture_on_commit_callbacks):
    project = provisioned
    directory = delivery_directory(project)
    files = manifests.render_files(project_manifest_spec(project))
    edited = dict(files)
    edited["resourcequota.yaml"] = files["resourcequota.yaml"].replace("pods: '50'", "pods: '999'")
    edited["notes.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
    del edited["limitrange.yaml"]
    get_delivery().deliver(directory, edited, message="hand edit")
    embedded = Target(name="", projects=Q(pk=project.pk), self_heal=True)

    with django_capture_on_commit_callbacks(execute=True):
        readback_pass(targets=[embedded])

    found = {(r.reason, r.kind): r for r in DriftRecord.objects.filter(project=project, source="platform_repository")}
    assert found[(DriftReason.CHANGED, "ResourceQuota")].field_paths == ["spec.hard.pods"]
    assert (DriftReason.MISSING, "LimitRange") in found
    assert found[(DriftReason.UNEXPECTED, "ConfigMap")].name == "notes"
    correction = ProvisioningRun.objects.filter(project=project, cause=ProvisioningCause.DRIFT_CORRECTION).get()
    # The correction ran (stand-in broker) and re-committed the rendered files.
    correction.refresh_from_db()
    assert correction.status == "succeeded", correction.error_message
    assert sorted(correction.result["modified"]) == ["resourcequota.yaml"]
    assert correction.result["added"] == ["limitrange.yaml"] and correction.result["removed"] == ["notes.yaml"]
    assert get_delivery().read(directory) == files

    readback_pass(targets=[embedded])
    assert not DriftRecord.objects.filter(project=project, resolved_at__isnull=True).exists()


def test_direct_cluster_with_self_heal_reapplies_a_hand_edit_through_a_provisioning_run(
        kube_double, forge_server, monkeypatch, django_capture_on_commit_callbacks):
    """Registered cluster, delivery mode direct, self-heal on: the pass reads clusters from the database."""
    from console.models.clusters import Cluster

    stand_in(monkeypatch, "provisioning", lambda run_id: provisioning_execute(run_id=run_id, task_id=f"p-{run_id}"))
    cluster = Cluster.objects.create(name="double", api_url=kube_double.url, token=kube_double.token,
                                     delivery_mode="direct", self_heal=True, argocd_url="https://argocd.example.test")
    project = make_delivered_project()
    type(project).objects.filter(pk=project.pk).update(cluster=cluster)
    with django_capture_on_commit_callbacks(execute=True):
        project_provision_request(actor=Actor.system("test"), project=project, trigger=Trigger.API)
    quota_ref = ObjectRef("v1", "ResourceQuota", project.namespace, "project-quota")
    assert kube_double.get(quota_ref)["spec"]["hard"]["pods"] == "50"
    edited = kube_double.get(quota_ref)
    edited["spec"]["hard"]["pods"] = "500"
    kube_double.put_object(edited)

    with django_capture_on_commit_callbacks(execute=True):
        record = readback_pass()

    assert record.clusters["double"]["reachable"] is True and record.corrections == 1
    drift = DriftRecord.objects.get(project=project, kind="ResourceQuota")
    assert drift.field_paths == ["spec.hard.pods"] and drift.correction_run.cause == ProvisioningCause.DRIFT_CORRECTION
    drift.correction_run.refresh_from_db()
    assert drift.correction_run.status == "succeeded", drift.correction_run.error_message
    # Healed: the cluster holds the rendered value again, and the next pass resolves the record.
    assert kube_double.get(quota_ref)["spec"]["hard"]["pods"] == "50"
    readback_pass()
    drift.refresh_from_db()
    assert drift.resolved_at is not None
