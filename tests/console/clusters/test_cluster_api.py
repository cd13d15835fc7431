"""Clusters in the REST API and the admin: platform admins only, the token write-only and encrypted at
rest, the connection test against the Kubernetes API double."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from console.models import AuditEvent, Cluster, Project, ProvisioningRun, Role
from tests.console.api.test_api import client_for, no_broker  # noqa: F401 - fixture
from tests.factories import make_member, make_organization, make_project, make_user

pytestmark = pytest.mark.django_db

TOKEN = "sa-token-5f1d0c0ffee"


@pytest.fixture
def staff():
    return make_user("root", staff=True)


def create(api, double, **fields):
    body = {"name": "prod", "api_url": double.url, "token": double.token, "delivery_mode": "direct", **fields}
    return api.post("/api/v1/clusters/", body, format="json")


def stored_token(cluster_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM console_cluster WHERE id = %s", [cluster_id])
        return cursor.fetchone()[0]


def test_register_keeps_the_token_write_only_and_encrypted(staff, kube_double):
    api = client_for(staff)

    response = create(api, kube_double, token=TOKEN)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token_is_set"] is True and "token" not in body and TOKEN not in response.content.decode()
    assert body["delivery_mode"] == "direct" and body["argocd_namespace"] == "argocd" and body["projects"] == 0
    raw = stored_token(body["id"])
    assert raw.startswith("fernet:") and TOKEN not in raw
    assert Cluster.objects.get(pk=body["id"]).token == TOKEN
    for page in (api.get("/api/v1/clusters/"), api.get(f"/api/v1/clusters/{body['id']}/")):
        assert page.status_code == 200 and TOKEN not in page.content.decode()
    event = AuditEvent.objects.get(action="cluster.register")
    assert TOKEN not in str(event.after) and event.after["token_is_set"] is True


def test_patch_without_token_keeps_it_and_with_one_replaces_it(staff, kube_double):
    api = client_for(staff)
    cluster_id = create(api, kube_double, token=TOKEN).json()["id"]

    assert api.patch(f"/api/v1/clusters/{cluster_id}/", {"self_heal": True}, format="json").status_code == 200
    assert Cluster.objects.get(pk=cluster_id).token == TOKEN
    response = api.patch(f"/api/v1/clusters/{cluster_id}/", {"token": "new-token-2"}, format="json")

    assert response.status_code == 200 and "new-token-2" not in response.content.decode()
    assert Cluster.objects.get(pk=cluster_id).token == "new-token-2"
    assert "new-token-2" not in str(list(AuditEvent.objects.values("before", "after")))


def test_bad_input_is_a_clear_400(staff, kube_double):
    api = client_for(staff)

    no_token = create(api, kube_double, token="")
    bad_mode = create(api, kube_double, name="other", delivery_mode="push")
    not_pem = create(api, kube_double, name="third", ca_bundle="hello")

    assert no_token.status_code == 400 and "token" in no_token.json()["detail"]
    assert bad_mode.status_code == 400 and "delivery_mode" in bad_mode.json()["detail"]
    assert not_pem.status_code == 400 and "PEM" in str(not_pem.json()["detail"])
    assert create(api, kube_double).status_code == 201
    duplicate = create(api, kube_double)
    assert duplicate.status_code == 400 and "name" in duplicate.json()["detail"]


def test_only_platform_admins_reach_clusters(kube_double, staff):
    cluster_id = create(client_for(staff), kube_double).json()["id"]
    owner = make_user("olga")
    project = make_project(make_organization("acme"), "shop")
    make_member(owner, project, Role.OWNER)
    api = client_for(owner)

    for response in (api.get("/api/v1/clusters/"), api.get(f"/api/v1/clusters/{cluster_id}/"),
                     create(api, kube_double, name="mine"),
                     api.post(f"/api/v1/clusters/{cluster_id}/test/"),
                     api.delete(f"/api/v1/clusters/{cluster_id}/"),
                     api.post(f"/api/v1/projects/{project.pk}/cluster/", {"cluster": cluster_id}, format="json")):
        assert response.status_code == 403, response.content
        assert "only platform admins" in response.json()["detail"]
    assert Cluster.objects.count() == 1 and Project.objects.get(pk=project.pk).cluster is None


def test_connection_test_reports_version_groups_and_missing_permissions(staff, kube_double):
    api = client_for(staff)
    cluster_id = create(api, kube_double).json()["id"]
    kube_double.deny("delete", "namespaces")

    response = api.post(f"/api/v1/clusters/{cluster_id}/test/")

    assert response.status_code == 200, response.content
    report = response.json()
    assert report["cluster"] == "prod" and report["reachable"] is True and report["ok"] is False
    assert report["server_version"].startswith("v1.") and "argoproj.io" in report["api_groups"]
    assert report["missing_permissions"] == ["delete namespaces (cluster-wide)"]
    assert kube_double.token not in response.content.decode()
    authorization = {r.headers.get("Authorization") for r in kube_double.requests}
    assert authorization == {f"Bearer {kube_double.token}"}


def test_connection_test_of_an_unreachable_cluster(staff, settings):
    settings.CLUSTER_RETRIES = 0
    api = client_for(staff)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cluster_id = api.post("/api/v1/clusters/", {"name": "gone", "api_url": f"http://127.0.0.1:{port}"},
                          format="json").json()["id"]

    report = api.post(f"/api/v1/clusters/{cluster_id}/test/").json()

    assert report["reachable"] is False and report["error_code"] == "cluster_unreachable"


def test_cluster_list_query_count_is_constant(staff, kube_double, django_assert_num_queries):
    api = client_for(staff)
    for name in ("a", "b", "c"):
        create(api, kube_double, name=name)
    make_project(cluster=Cluster.objects.get(name="a"))

    with django_assert_num_queries(3):  # token with its user, count, page
        response = api.get("/api/v1/clusters/")

    assert [c["projects"] for c in response.json()["results"]] == [1, 0, 0]


def test_one_default_cluster_at_a_time(staff, kube_double):
    api = client_for(staff)
    first = create(api, kube_double, name="first", is_default=True).json()["id"]
    second = create(api, kube_double, name="second", is_default=True).json()["id"]

    assert list(Cluster.objects.filter(is_default=True).values_list("pk", flat=True)) == [second]
    assert api.get(f"/api/v1/clusters/{first}/").json()["is_default"] is False


def test_a_cluster_with_projects_cannot_be_removed(staff, kube_double):
    api = client_for(staff)
    cluster_id = create(api, kube_double).json()["id"]
    make_project(cluster=Cluster.objects.get(pk=cluster_id))

    response = api.delete(f"/api/v1/clusters/{cluster_id}/")

    assert response.status_code == 409 and response.json()["code"] == "cluster_in_use"


def test_move_and_archive_flags_over_the_api(staff, kube_double, no_broker):  # noqa: F811
    api = client_for(staff)
    cluster_id = create(api, kube_double).json()["id"]
    project = make_project(make_organization("acme"), "shop")

    moved = api.post(f"/api/v1/projects/{project.pk}/cluster/", {"cluster": cluster_id}, format="json")
    unknown = api.post(f"/api/v1/projects/{project.pk}/cluster/", {"cluster": 999}, format="json")
    archived = api.post(f"/api/v1/projects/{project.pk}/archive/", {"delete_namespace": True}, format="json")

    assert moved.status_code == 202, moved.content
    assert moved.json()["cause"] == "cluster_moved"
    assert unknown.status_code == 400
    assert archived.status_code == 202 and archived.json()["action"] == "archive"
    run = ProvisioningRun.objects.get(project=project)
    assert {"cause": "project_archived", "delete_namespace": True} in run.causes
    assert Project.objects.get(pk=project.pk).cluster_id == cluster_id


# ----------------------------------------------------------------------------------------------- admin


@pytest.fixture
def admin_client(staff, monkeypatch):
    from tests.support.enqueue import stand_in

    stand_in(monkeypatch, "provisioning", lambda run_id: None)
    staff.is_superuser = True
    staff.save()
    client = Client()
    client.force_login(staff)
    return client


def test_admin_registers_with_a_write_only_token_and_tests_the_connection(admin_client, kube_double):
    response = admin_client.post("/admin/console/cluster/add/", {
        "name": "prod", "api_url": kube_double.url, "token": kube_double.token, "argocd_namespace": "argocd",
        "delivery_mode": "direct", "ca_bundle": "", "argocd_url": ""}, follow=True)
    assert response.status_code == 200
    cluster = Cluster.objects.get(name="prod")
    assert cluster.token == kube_double.token and stored_token(cluster.pk).startswith("fernet:")

    page = admin_client.get(f"/admin/console/cluster/{cluster.pk}/change/")
    assert kube_double.token not in page.content.decode()
    kube_double.deny("patch", "applications", group="argoproj.io", namespace="argocd")

    tested = admin_client.post("/admin/console/cluster/", {"action": "test_connection",
                                                           "_selected_action": [cluster.pk]}, follow=True)

    text = tested.content.decode()
    assert "Kubernetes v1.26.4+k3s1" in text
    assert "the token lacks: patch applications.argoproj.io in namespace argocd" in text
    assert kube_double.token not in text
    assert AuditEvent.objects.filter(action="cluster.register", interface="admin").exists()


def test_admin_edit_without_token_keeps_it(admin_client, kube_double):
    admin_client.post("/admin/console/cluster/add/", {
        "name": "prod", "api_url": kube_double.url, "token": TOKEN, "argocd_namespace": "argocd",
        "delivery_mode": "gitops"})
    cluster = Cluster.objects.get(name="prod")

    admin_client.post(f"/admin/console/cluster/{cluster.pk}/change/", {
        "name": "prod", "api_url": kube_double.url, "token": "", "argocd_namespace": "argo-cd",
        "delivery_mode": "gitops"})

    cluster.refresh_from_db()
    assert cluster.token == TOKEN and cluster.argocd_namespace == "argo-cd"


def test_admin_moves_a_project_through_the_service(admin_client, kube_double):
    admin_client.post("/admin/console/cluster/add/", {
        "name": "prod", "api_url": kube_double.url, "token": TOKEN, "argocd_namespace": "argocd",
        "delivery_mode": "direct"})
    cluster = Cluster.objects.get(name="prod")
    project = make_project(make_organization("acme"), "shop")

    response = admin_client.post(f"/admin/console/project/{project.pk}/change/", {
        "name": project.name, "description": "", "placement": cluster.pk}, follow=True)

    assert response.status_code == 200
    project.refresh_from_db()
    assert project.cluster == cluster
    run = ProvisioningRun.objects.get(project=project)
    assert run.cause == "cluster_moved" and run.trigger == "admin"
    assert "moving to prod" in response.content.decode()
