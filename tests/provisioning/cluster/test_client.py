"""KubeCluster against the Kubernetes API double over loopback, with the real ``kubernetes`` client:
what was sent (content type, field manager, order, label selectors) and what the server ends up holding."""

from __future__ import annotations

import socket

import pytest

from provisioning import manifests
from provisioning.cluster import (
    ClusterConflict,
    ClusterForbidden,
    ClusterInvalid,
    ClusterTransient,
    ClusterUnauthorized,
    ClusterUnreachable,
    KubeCluster,
    ObjectRef,
)
from provisioning.cluster.client import APPLY_CONTENT_TYPE

REPO = "https://git.example.test/acme/shop-infra.git"
OTHER = "https://git.example.test/acme/shop-edge.git"
SELECTOR = "app.kubernetes.io/managed-by=dso-console,dso.console/organization=acme,dso.console/project=shop"
ARGO = "argoproj.io/v1alpha1"


def spec(*apps: str, cpu: str = "8") -> manifests.ProjectSpec:
    repos = {"infra": REPO, "edge": OTHER}
    return manifests.ProjectSpec(
        organization_slug="acme", organization_name="Acme", project_slug="shop", project_name="Shop",
        source_repos=tuple(sorted(repos[a] for a in apps)),
        infra_apps=tuple(manifests.InfraAppSpec(name=a, repo_url=repos[a], kind="helm") for a in apps),
        quota=manifests.QuotaSpec(cpu_limits=cpu),
    )


@pytest.fixture
def delays() -> list[float]:
    return []


@pytest.fixture
def cluster(kube_double, delays):
    client = KubeCluster(kube_double.config(), retries=2, backoff_seconds=0.25, sleep=delays.append)
    yield client
    client.close()


def kinds_written(requests) -> list[str]:
    return [r.body["kind"] for r in requests if r.method == "PATCH"]


def test_apply_sends_server_side_apply_in_dependency_order(kube_double, cluster):
    result = cluster.apply(list(reversed(manifests.render_objects(spec("infra", "edge")))))

    patches = [r for r in kube_double.writes()]
    assert {r.method for r in patches} == {"PATCH"}
    assert all(r.content_type == APPLY_CONTENT_TYPE for r in patches)
    assert all(r.query["fieldManager"] == "dso-console" and "force" not in r.query for r in patches)
    assert kinds_written(patches) == ["Namespace", "LimitRange", "NetworkPolicy", "ResourceQuota",
                                      "AppProject", "Application", "Application"]
    assert patches[0].path == "/api/v1/namespaces/acme-shop"
    assert patches[-1].path == f"/apis/{ARGO}/namespaces/argocd/applications/acme-shop-infra"
    assert len(result.created) == 7 and not result.configured and not result.unchanged

    held = {(o["kind"], o["metadata"]["name"]) for o in kube_double.objects()}
    assert {("Namespace", "acme-shop"), ("AppProject", "acme-shop"), ("Application", "acme-shop-edge"),
            ("ResourceQuota", "project-quota")} <= held
    namespace = kube_double.get(ObjectRef("v1", "Namespace", None, "acme-shop"))
    assert namespace["metadata"]["uid"] and namespace["metadata"]["resourceVersion"]
    assert namespace["metadata"]["creationTimestamp"].endswith("Z")
    assert namespace["metadata"]["managedFields"][0]["manager"] == "dso-console"
    assert namespace["metadata"]["managedFields"][0]["operation"] == "Apply"


def test_reapply_with_nothing_changed_sends_no_write(kube_double, cluster):
    objects = manifests.render_objects(spec("infra"))
    cluster.apply(objects)
    versions = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in kube_double.objects()}
    kube_double.clear_requests()

    result = cluster.apply(objects)

    assert kube_double.writes() == []
    assert {r.method for r in kube_double.requests} == {"GET"}
    assert len(result.unchanged) == len(objects) and not result.changed
    assert {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in kube_double.objects()} == versions


def test_a_changed_field_rewrites_only_its_object(kube_double, cluster):
    cluster.apply(manifests.render_objects(spec("infra")))
    kube_double.clear_requests()

    result = cluster.apply(manifests.render_objects(spec("infra", cpu="12")))

    assert [str(r) for r in result.configured] == ["ResourceQuota acme-shop/project-quota"]
    assert kinds_written(kube_double.writes()) == ["ResourceQuota"]
    quota = kube_double.get(ObjectRef("v1", "ResourceQuota", "acme-shop", "project-quota"))
    assert quota["spec"]["hard"]["limits.cpu"] == "12"
    assert quota["metadata"]["generation"] == 2


def test_a_field_no_longer_rendered_is_removed(kube_double, cluster):
    with_values = manifests.render_objects(
        manifests.ProjectSpec(**{**vars(spec("infra")), "infra_apps": (
            manifests.InfraAppSpec(name="infra", repo_url=REPO, kind="helm", value_files=("prod.yaml",)),)}))
    cluster.apply(with_values)
    ref = ObjectRef(ARGO, "Application", "argocd", "acme-shop-infra")
    assert kube_double.get(ref)["spec"]["source"]["helm"] == {"valueFiles": ["prod.yaml"]}

    result = cluster.apply(manifests.render_objects(spec("infra")))

    assert ref in result.configured
    assert "helm" not in kube_double.get(ref)["spec"]["source"]


def test_prune_deletes_the_application_of_a_removed_infra_repository(kube_double, cluster):
    cluster.apply(manifests.render_objects(spec("infra", "edge")))
    # Someone else's Application in the same namespace, and one of another project: never touched.
    kube_double.put_object({"apiVersion": ARGO, "kind": "Application",
                            "metadata": {"name": "hand-made", "namespace": "argocd"}, "spec": {"project": "x"}})
    kube_double.put_object({"apiVersion": ARGO, "kind": "Application", "metadata": {
        "name": "acme-blog-infra", "namespace": "argocd", "labels": {
            "app.kubernetes.io/managed-by": "dso-console", "dso.console/organization": "acme",
            "dso.console/project": "blog"}}, "spec": {"project": "acme-blog"}})
    desired = manifests.render_objects(spec("infra"))
    cluster.apply(desired)
    kube_double.clear_requests()

    pruned = cluster.prune(label_selector=SELECTOR, keep={ObjectRef.of(o) for o in desired},
                           kinds=[(ARGO, "Application"), (ARGO, "AppProject")])

    assert pruned == [ObjectRef(ARGO, "Application", "argocd", "acme-shop-edge")]
    lists = [r for r in kube_double.requests if r.method == "GET" and r.path.endswith(("applications", "appprojects"))]
    assert [r.query["labelSelector"] for r in lists] == [SELECTOR, SELECTOR]
    assert [(r.method, r.path) for r in kube_double.writes()] == [
        ("DELETE", f"/apis/{ARGO}/namespaces/argocd/applications/acme-shop-edge")]
    names = {o["metadata"]["name"] for o in kube_double.objects(kind="Application")}
    assert names == {"acme-shop-infra", "hand-made", "acme-blog-infra"}


def test_list_objects_is_one_list_with_the_label_selector(kube_double, cluster):
    cluster.apply(manifests.render_objects(spec("infra", "edge")))
    kube_double.clear_requests()

    apps = cluster.list_objects(api_version=ARGO, kind="Application", namespace="argocd",
                                label_selector="app.kubernetes.io/managed-by=dso-console")

    assert sorted(a["metadata"]["name"] for a in apps) == ["acme-shop-edge", "acme-shop-infra"]
    assert all(a["kind"] == "Application" and a["metadata"]["uid"] for a in apps)
    [request] = kube_double.requests
    assert (request.method, request.path) == ("GET", f"/apis/{ARGO}/namespaces/argocd/applications")
    assert request.query == {"labelSelector": "app.kubernetes.io/managed-by=dso-console"}


def test_an_object_the_console_does_not_own_is_never_taken_over(kube_double, cluster):
    kube_double.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme-shop"}})
    kube_double.clear_requests()

    with pytest.raises(ClusterConflict, match="Namespace acme-shop already exists .* not managed by DSO Console"):
        cluster.apply(manifests.render_objects(spec("infra")))

    assert kube_double.writes() == []


def test_a_hand_edit_of_an_owned_field_is_overwritten_with_force(kube_double, cluster):
    objects = manifests.render_objects(spec("infra"))
    cluster.apply(objects)
    ref = ObjectRef("v1", "ResourceQuota", "acme-shop", "project-quota")
    edited = kube_double.get(ref)
    edited["spec"]["hard"]["limits.cpu"] = "64"
    kube_double.put_object(edited, manager="kubectl-edit")
    kube_double.clear_requests()

    result = cluster.apply(objects)

    writes = kube_double.writes()
    assert [(w.body["kind"], w.query.get("force")) for w in writes] == [("ResourceQuota", None),
                                                                          ("ResourceQuota", "true")]
    assert result.configured == [ref]
    assert kube_double.get(ref)["spec"]["hard"]["limits.cpu"] == "8"


def test_403_names_verb_resource_and_namespace(kube_double, cluster):
    kube_double.deny("patch", "networkpolicies", group="networking.k8s.io", namespace="acme-shop")

    with pytest.raises(ClusterForbidden) as caught:
        cluster.apply(manifests.render_objects(spec("infra")))

    error = caught.value
    assert (error.verb, error.resource, error.namespace, error.group) == (
        "patch", "networkpolicies", "acme-shop", "networking.k8s.io")
    assert 'may not patch "networkpolicies" of API group "networking.k8s.io" in namespace "acme-shop"' in str(error)
    assert error.code == "cluster_forbidden" and not error.transient
    assert kube_double.token not in str(error)


def test_422_names_the_invalid_field(kube_double, cluster):
    bad = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Not_A_Name", "labels": {
        "app.kubernetes.io/managed-by": "dso-console"}}}

    with pytest.raises(ClusterInvalid) as caught:
        cluster.apply([bad])

    assert caught.value.fields == ("metadata.name",)
    assert "metadata.name: Invalid value" in str(caught.value)


def test_5xx_and_429_are_retried_with_backoff(kube_double, cluster, delays):
    kube_double.fail(503, method="PATCH", times=1)
    kube_double.fail(429, method="PATCH", times=1)

    result = cluster.apply(manifests.render_objects(spec("infra")))

    assert len(result.created) == 6
    assert delays == [0.25, 0.5]
    assert kube_double.get(ObjectRef("v1", "Namespace", None, "acme-shop")) is not None


def test_a_cluster_failing_for_good_ends_in_a_transient_error(kube_double, cluster, delays):
    fault = kube_double.fail(500, method="PATCH", message="etcdserver: request timed out")

    with pytest.raises(ClusterTransient, match="answered 500 .*etcdserver") as caught:
        cluster.apply(manifests.render_objects(spec("infra")))

    assert caught.value.transient and fault.served == 3 and delays == [0.25, 0.5]


def test_a_cluster_that_hangs_times_out_and_is_retried(kube_double, delays):
    client = KubeCluster(kube_double.config(timeout_seconds=0.3), retries=1, backoff_seconds=0.1,
                         sleep=delays.append)
    fault = kube_double.hang(seconds=5, method="GET", path="/namespaces/acme-shop$")

    with pytest.raises(ClusterUnreachable, match="did not answer within 0.3s") as caught:
        client.apply(manifests.render_objects(spec("infra")))

    assert caught.value.transient and caught.value.code == "cluster_unreachable"
    assert fault.served == 2 and delays == [0.1]
    assert kube_double.writes() == []


def test_a_wrong_token_is_refused_without_retry(kube_double, delays):
    client = KubeCluster(kube_double.config(token="wrong"), sleep=delays.append)

    with pytest.raises(ClusterUnauthorized, match="refused the console's token"):
        client.apply(manifests.render_objects(spec("infra")))
    assert delays == []


def test_connection_report_lists_what_the_token_lacks(kube_double, cluster):
    kube_double.deny("delete", "namespaces")
    kube_double.deny("patch", "applications", group="argoproj.io", namespace="argocd")

    report = cluster.report()

    assert report.reachable and not report.ok
    assert report.server_version.startswith("v1.")
    assert {"core", "networking.k8s.io", "argoproj.io"} <= set(report.api_groups)
    assert [str(p) for p in report.missing_permissions] == [
        "delete namespaces (cluster-wide)", "patch applications.argoproj.io in namespace argocd"]
    reviews = [r for r in kube_double.requests if r.path.endswith("selfsubjectaccessreviews")]
    assert reviews and all(r.body["kind"] == "SelfSubjectAccessReview" for r in reviews)


def test_connection_report_of_a_cluster_nobody_answers():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from provisioning.cluster import ClusterConfig

    client = KubeCluster(ClusterConfig(name="gone", api_url=f"http://127.0.0.1:{port}", token="t",
                                       timeout_seconds=1), retries=0)
    report = client.report()

    assert not report.reachable and report.error_code == "cluster_unreachable"
    assert f"127.0.0.1:{port}" in report.error


def test_delete_answers_false_when_already_gone(kube_double, cluster):
    cluster.apply(manifests.render_objects(spec("infra")))
    ref = ObjectRef(ARGO, "Application", "argocd", "acme-shop-infra")

    assert cluster.delete(ref) is True
    assert cluster.delete(ref) is False
    assert kube_double.get(ref) is None


def test_every_object_sent_validates_against_the_schemas(kube_double, cluster):
    """What goes over the wire (not only what is rendered) for the longest accepted inputs: Kubernetes'
    own schemas for the built-in kinds, the Argo CD CRDs for the rest."""
    import kubernetes_validate

    from tests.provisioning.test_manifests import KUBERNETES_VERSION, crd_validator, longest_spec

    spec = longest_spec()
    if spec.argocd_namespace != "argocd":
        kube_double.put_object({"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": spec.argocd_namespace}})
    kube_double.clear_requests()

    result = cluster.apply(manifests.render_objects(spec))

    crds = {"AppProject": crd_validator("appproject-crd.yaml"), "Application": crd_validator("application-crd.yaml")}
    sent = [r.body for r in kube_double.writes()]
    assert len(sent) == len(result.created) == 35
    for body in sent:
        if body["kind"] in crds:
            crds[body["kind"]].validate(body)
        else:
            kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)


def test_what_the_server_canonicalises_or_defaults_is_not_a_change():
    from provisioning.cluster.client import differs

    desired = {"spec": {"hard": {"limits.cpu": "1.5", "requests.memory": "1Gi"},
                        "ports": [{"port": 53}], "podSelector": {}}}
    live = {"spec": {"hard": {"limits.cpu": "1500m", "requests.memory": "1Gi", "pods": "5"},
                     "ports": [{"port": 53, "protocol": "UDP"}], "podSelector": {}}, "status": {"used": {}}}

    assert differs(desired, live) == []
    assert differs({"spec": {"hard": {"limits.cpu": "2"}}}, live) == ["spec.hard.limits.cpu"]
    assert differs({"spec": {"ports": [{"port": 54}]}}, live) == ["spec.ports"]
