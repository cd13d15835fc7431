"""Delivery mode ``direct``: provisioning runs apply to a cluster (the Kubernetes API double over loopback,
with the real kubernetes client), prune what is no longer rendered, archive, and move projects."""

from __future__ import annotations

import pytest

from console.integrations import get_delivery, platform_repository_path
from console.models import AuditEvent, Project, ProvisioningRun, RunStatus
from console.services.clusters import project_move_cluster
from console.services.projects import project_archive, project_provision_request
from provisioning.cluster import ObjectRef
from tests.doubles.kube.server import KubeDouble
from tests.factories import make_organization, make_project, make_repository

pytestmark = pytest.mark.django_db

ARGO = "argoproj.io/v1alpha1"
NAMESPACE = ObjectRef("v1", "Namespace", None, "acme-shop")
APP_PROJECT = ObjectRef(ARGO, "AppProject", "argocd", "acme-shop")


def app_ref(name: str) -> ObjectRef:
    return ObjectRef(ARGO, "Application", "argocd", f"acme-shop-{name}")


@pytest.fixture
def project(db):
    project = make_project(make_organization("acme"), "shop")
    make_repository(project, "infra", is_infra=True, deploy_kind="helm",
                    internal_url="https://git.internal.test/dso/acme/shop/infra.git")
    make_repository(project, "edge", is_infra=True, deploy_kind="kustomize",
                    internal_url="https://git.internal.test/dso/acme/shop/edge.git")
    return project


def provision(project, actor, capture) -> ProvisioningRun:
    with capture(execute=True):
        queued = project_provision_request(actor=actor, project=project)
    queued.run.refresh_from_db()
    return queued.run


def test_direct_provisioning_applies_in_order_and_commits_nothing(
        kube_double, register, project, admin_actor, executed, forge_server, django_capture_on_commit_callbacks,
        settings):
    register(kube_double)

    run = provision(project, admin_actor, django_capture_on_commit_callbacks)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.result["cluster"] == "prod" and run.result["mode"] == "direct"
    assert run.result["objects"]["created"] == [
        "Namespace acme-shop", "LimitRange acme-shop/project-limits", "NetworkPolicy acme-shop/default-deny",
        "ResourceQuota acme-shop/project-quota", "AppProject argocd/acme-shop",
        "Application argocd/acme-shop-edge", "Application argocd/acme-shop-infra"]
    patches = kube_double.writes()
    assert {(p.method, p.content_type, p.query["fieldManager"]) for p in patches} == {
        ("PATCH", "application/apply-patch+yaml", "dso-console")}
    assert kube_double.get(app_ref("infra"))["spec"]["project"] == "acme-shop"
    # Nothing went to the platform repository: it was not even created.
    assert not (settings.LOCAL_FORGE_ROOT / f"{platform_repository_path()}.git").exists()
    assert Project.objects.get(pk=project.pk).status == Project.Status.READY


def test_reprovisioning_unchanged_sends_no_write_and_records_no_change(
        kube_double, register, project, admin_actor, executed, forge_server, django_capture_on_commit_callbacks):
    register(kube_double)
    provision(project, admin_actor, django_capture_on_commit_callbacks)
    kube_double.clear_requests()

    run = provision(project, admin_actor, django_capture_on_commit_callbacks)

    assert run.status == RunStatus.NO_CHANGE, run.result
    assert kube_double.writes() == []
    assert len(run.result["objects"]["unchanged"]) == 7 and run.result["pruned"] == []


def test_a_removed_infra_repository_has_its_application_pruned(
        kube_double, register, project, admin_actor, executed, forge_server, django_capture_on_commit_callbacks):
    register(kube_double)
    provision(project, admin_actor, django_capture_on_commit_callbacks)
    project.repositories.get(name="edge").delete()
    kube_double.clear_requests()

    run = provision(project, admin_actor, django_capture_on_commit_callbacks)

    assert run.status == RunStatus.SUCCEEDED
    assert run.result["pruned"] == ["Application argocd/acme-shop-edge"]
    assert kube_double.get(app_ref("edge")) is None and kube_double.get(app_ref("infra")) is not None
    lists = [r for r in kube_double.requests if r.method == "GET" and "labelSelector" in r.query]
    assert lists and {r.query["labelSelector"] for r in lists} == {
        "app.kubernetes.io/managed-by=dso-console,dso.console/organization=acme,dso.console/project=shop"}
    # The AppProject no longer lists the removed repository's source.
    assert kube_double.get(APP_PROJECT)["spec"]["sourceRepos"] == [
        "https://git.internal.test/dso/acme/shop/infra.git"]


def test_archive_removes_applications_and_appproject_but_keeps_the_namespace(
        kube_double, register, project, admin_actor, executed, forge_server, django_capture_on_commit_callbacks):
    register(kube_double)
    provision(project, admin_actor, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        queued = project_archive(actor=admin_actor, project=project)

    run = ProvisioningRun.objects.get(pk=queued.run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    # Dependents first: the Applications, then the AppProject they belong to.
    assert run.result["deleted"] == ["Application argocd/acme-shop-infra", "Application argocd/acme-shop-edge",
                                     "AppProject argocd/acme-shop"]
    assert run.result["namespace_kept"] is True
    assert kube_double.objects(kind="Application") == [] and kube_double.get(APP_PROJECT) is None
    assert kube_double.get(NAMESPACE) is not None
    assert kube_double.objects(kind="ResourceQuota", namespace="acme-shop")
    assert Project.objects.get(pk=project.pk).status == Project.Status.ARCHIVED


def test_archive_with_confirmation_deletes_the_namespace_too(
        kube_double, register, project, admin_actor, executed, forge_server, django_capture_on_commit_callbacks):
    register(kube_double)
    provision(project, admin_actor, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        queued = project_archive(actor=admin_actor, project=project, delete_namespace=True)

    run = ProvisioningRun.objects.get(pk=queued.run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.result["deleted"][-1] == "Namespace acme-shop" and run.result["namespace_kept"] is False
    deletes = [r.path for r in kube_double.writes() if r.method == "DELETE"]
    assert deletes[-1] == "/api/v1/namespaces/acme-shop"
    assert kube_double.get(NAMESPACE) is None and kube_double.objects(namespace="acme-shop") == []
    event = AuditEvent.objects.get(action="project.archive")
    assert event.after == {"delete_namespace": True}


def test_a_forbidden_write_fails_the_run_with_what_to_grant(
        kube_double, register, project, admin_actor, executed, forge_server, django_capture_on_commit_callbacks):
    register(kube_double)
    kube_double.deny("patch", "appprojects", group="argoproj.io", namespace="argocd")

    run = provision(project, admin_actor, django_capture_on_commit_callbacks)

    assert run.status == RunStatus.FAILED and run.error_code == "cluster_forbidden"
    assert 'may not patch "appprojects" of API group "argoproj.io" in namespace "argocd"' in run.error_message
    assert kube_double.token not in run.error_message
    assert Project.objects.get(pk=project.pk).status == Project.Status.FAILED


def test_a_cluster_that_times_out_is_retried_later(
        kube_double, register, project, admin_actor, executed, forge_server, django_capture_on_commit_callbacks,
        settings):
    settings.CLUSTER_TIMEOUT_SECONDS = 0.3
    register(kube_double)
    fault = kube_double.hang(seconds=5, path="/api/v1/namespaces/acme-shop$")

    run = provision(project, admin_actor, django_capture_on_commit_callbacks)

    # Two attempts in the adapter (one retry), then the run is left for the task to retry with backoff.
    assert fault.served == 2
    assert run.status == RunStatus.RUNNING and run.error_code == "cluster_unreachable"
    assert run.error_message.startswith("attempt 1 of 5 failed, retried: the API server of cluster prod did not "
                                        "answer within 0.3s")
    kube_double.heal()
    from console.services.provisioning import provisioning_execute

    provisioning_execute(run_id=run.pk, task_id=run.task_id)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 2
    assert kube_double.get(NAMESPACE) is not None


def test_moving_a_project_applies_on_the_new_cluster_and_removes_from_the_old(
        kube_double, register, project, admin_actor, executed, forge_server, django_capture_on_commit_callbacks):
    old = register(kube_double, "old")
    provision(project, admin_actor, django_capture_on_commit_callbacks)
    with KubeDouble() as other:
        new = register(other, "new", is_default=False)

        with django_capture_on_commit_callbacks(execute=True):
            queued = project_move_cluster(actor=admin_actor, project=project, cluster=new)

        run = ProvisioningRun.objects.get(pk=queued.run.pk)
        assert run.status == RunStatus.SUCCEEDED, run.error_message
        assert run.cause == "cluster_moved" and run.cause_summary == "moved to another cluster (old \u2192 new)"
        assert run.result["cluster"] == "new" and len(run.result["objects"]["created"]) == 7
        [removal] = run.result["removed_from_previous"]
        assert removal["cluster"] == "old"
        assert removal["deleted"][-1] == "Namespace acme-shop" and len(removal["deleted"]) == 4
        assert other.get(NAMESPACE) is not None and other.get(app_ref("infra")) is not None
        assert kube_double.get(NAMESPACE) is None and kube_double.objects(kind="Application") == []
    project.refresh_from_db()
    assert project.cluster == new
    event = AuditEvent.objects.get(action="project.move_cluster")
    assert (event.before, event.after) == ({"cluster": "old"}, {"cluster": "new", "placement": "new"})
    assert old.projects.count() == 0


def test_moving_from_the_embedded_default_to_a_direct_cluster_removes_the_gitops_directory(
        kube_double, register, project, admin_actor, executed, forge_server, django_capture_on_commit_callbacks):
    run = provision(project, admin_actor, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.SUCCEEDED and "cluster" not in run.result  # the embedded default, as before
    assert "namespace.yaml" in get_delivery().read("projects/acme/shop")
    cluster = register(kube_double, "prod", is_default=False)

    with django_capture_on_commit_callbacks(execute=True):
        queued = project_move_cluster(actor=admin_actor, project=project, cluster=cluster)

    run = ProvisioningRun.objects.get(pk=queued.run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    [removal] = run.result["removed_from_previous"]
    assert removal["platform_repository"] == "projects/acme/shop" and "namespace.yaml" in removal["removed"]
    assert get_delivery().read("projects/acme/shop") == {}
    assert kube_double.get(NAMESPACE) is not None


def test_moving_to_the_cluster_it_is_already_on_queues_nothing(kube_double, register, project, admin_actor):
    cluster = register(kube_double)  # the default: the project is on it already

    assert project_move_cluster(actor=admin_actor, project=project, cluster=cluster) is None
    assert ProvisioningRun.objects.count() == 0
    assert Project.objects.get(pk=project.pk).cluster == cluster


def test_gitops_cluster_keeps_todays_commit_with_its_argocd_namespace(
        kube_double, register, project, admin_actor, executed, forge_server, django_capture_on_commit_callbacks):
    register(kube_double, delivery_mode="gitops", argocd_namespace="argo-cd")

    run = provision(project, admin_actor, django_capture_on_commit_callbacks)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.result["cluster"] == "prod" and run.result["commit"]
    files = get_delivery().read("projects/acme/shop")
    assert "namespace: argo-cd" in files["appproject.yaml"]
    assert kube_double.writes() == []
